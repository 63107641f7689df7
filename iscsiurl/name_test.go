package iscsiurl

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	good := []string{
		"iqn.2001-04.com.example",
		"iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
		"iqn.2001-04.com.example:storage.tape1.sys1.xyz",
		"iqn.1992-01.com.example:",
		"iqn.2026-12.org.debian:01:abcdef",
		"iqn.1995-05.x",
		"eui.02004567A425678D",
		"eui.02004567a425678d",
		"naa.52004567BA64678D",
		"naa.52004567BA64678D52004567BA64678D",
		"iqn.2001-04.com.example:" + strings.Repeat("a", MaxNameLen-24),
	}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q): %v", n, err)
		}
	}
	bad := []struct{ name, reason string }{
		{"", "empty"},
		{"iqn.2001-04.com.example:" + strings.Repeat("a", MaxNameLen-23), "224 bytes"},
		{"IQN.2001-04.com.example", `"iqn."`},
		{"iqn.2001-04.com.Example", "upper-case 'E'"},
		{"iqn.2001-04.com.example:disk_1", "'_'"},
		{"iqn.2001-04.com.example:disk 1", "' '"},
		{"iqn.2001-04.com.exämple", "not allowed"},
		{"iqn.2001-4.com.example", "YYYY-MM"},
		{"iqn.01-04.com.example", "YYYY-MM"},
		{"iqn.2001-04com.example", "YYYY-MM"},
		{"iqn.2001-04", "YYYY-MM"},
		{"iqn.2001-13.com.example", "month 13"},
		{"iqn.2001-00.com.example", "month 00"},
		{"iqn.2001-04.", "naming authority"},
		{"iqn.2001-04.:disk", "naming authority"},
		{"iqn.2001-04.com..example", "empty label"},
		{"iqn.2001-04.com.example.:x", "empty label"},
		{"iqn.x", "YYYY-MM"},
		{"eui.02004567A425678", "16 hex"},
		{"eui.02004567A425678D0", "16 hex"},
		{"eui.02004567A425678G", "16 hex"},
		{"eui.", "16 hex"},
		{"naa.52004567BA64678D5", "16 or 32"},
		{"naa.52004567BA64678D52004567BA64678", "16 or 32"},
		{"naa.52004567BA64678Z", "16 or 32"},
		{"wwn.52004567BA64678D", `"iqn."`},
		{"iqn", `"iqn."`},
	}
	for _, tt := range bad {
		err := ValidateName(tt.name)
		if err == nil {
			t.Errorf("ValidateName(%q) accepted", tt.name)
			continue
		}
		var ne *NameError
		if !errors.Is(err, ErrName) || !errors.As(err, &ne) || ne.Name != tt.name {
			t.Errorf("ValidateName(%q): error %T %v is not a *NameError", tt.name, err, err)
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("ValidateName(%q) = %q, want it to say %q", tt.name, err, tt.reason)
		}
	}
}
