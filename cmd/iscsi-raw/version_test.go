package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("--version: exit status %d, stderr %q", code, stderr.String())
	}
	if got := stdout.String(); !strings.HasPrefix(got, "iscsi-raw github.com/iscsi-go/iscsi ") || strings.Count(got, "\n") != 1 {
		t.Errorf("--version printed %q, want one line naming the tool and the module", got)
	}
}
