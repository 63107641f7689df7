package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const pw = "hunter2-very-secret"
	s := NewSecret(pw)
	type holder struct {
		User string
		Pass Secret
		pass Secret // unexported: fmt cannot call its methods
	}
	h := holder{"u", s, s}
	var outs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-20v"} {
		outs = append(outs, fmt.Sprintf(f, s), fmt.Sprintf(f, h), fmt.Sprintf(f, &h))
	}
	outs = append(outs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(h))
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("login", "secret", s, "holder", h)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("login", "secret", s)
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, pw) || strings.Contains(o, fmt.Sprintf("%x", pw)) {
			t.Errorf("secret leaked: %q", o)
		}
	}
	if s.Reveal() != pw {
		t.Fatalf("Reveal = %q", s.Reveal())
	}
	if !strings.Contains(fmt.Sprint(s), "redacted") {
		t.Errorf("a set secret should say it is redacted, got %q", fmt.Sprint(s))
	}
	if NewSecret("").String() != "" || !NewSecret("").IsZero() || s.IsZero() {
		t.Error("IsZero/String of empty secret wrong")
	}
	if !s.Equal(NewSecret(pw)) || s.Equal(NewSecret("x")) {
		t.Error("Equal wrong")
	}
}
