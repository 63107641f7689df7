package tools_test

import (
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

const iqnSWP = "iqn.2026-11.com.github.iscsi-go:swp"

// TestParitySWP runs libiscsi's iscsi-swp and ours through the same steps,
// each on its own LUN (the steps change the LUN), and compares standard
// output and exit status at every step; then the cases that change nothing.
func TestParitySWP(t *testing.T) {
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqnSWP, LUNs: []tgtd.LUNSpec{
		{Size: 4 << 20}, {Size: 4 << 20}, // libiscsi's, ours
		{Size: 4 << 20, BlockSize: 4096}, {Size: 4 << 20, BlockSize: 4096},
	}})
	url := func(lun int) string { return inst.TargetURL(iqnSWP, lun) }
	steps := [][]string{
		{}, {"-s", "on"}, {}, {"--swp=off"}, {}, {"-s", "ON"}, {"-s", "ON"}, {"--swp", "OFF"}, {"-d"}, {"-i", "iqn.2026-11.com.example:someone", "-s", "on"}, {"-s", "off"},
	}
	for _, pair := range [][2]int{{1, 2}, {3, 4}} {
		for i, st := range steps {
			name := strings.Join(append([]string{"lun", itoa(pair[0])}, st...), " ")
			ok := t.Run(itoa(i)+" "+name, func(t *testing.T) {
				compare(t, parityCase{
					tool:     "iscsi-swp",
					args:     append(append([]string(nil), st...), url(pair[0])),
					oursArgs: append(append([]string(nil), st...), url(pair[1])),
				})
			})
			if !ok {
				break // the LUNs are no longer in the same state
			}
		}
	}
	for name, args := range map[string][]string{
		"controller":         {url(0)},
		"controller -s on":   {"-s", "on", url(0)},
		"missing LUN":        {url(9)},
		"missing LUN -s off": {"-s", "off", url(9)},
		"no URL":             {},
		"bad -s value":       {"-s", "bogus", url(1)},
		"help":               {"--help"},
		"usage":              {"--usage"},
		"unknown option":     {"--no-such-option", url(1)},
	} {
		t.Run(name, func(t *testing.T) { compare(t, parityCase{tool: "iscsi-swp", args: args}) })
	}
}
