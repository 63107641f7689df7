package tgtd

import (
	"context"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/session"
)

// A second portal serves the same LUN: the same unit serial number.
func TestAddPortal(t *testing.T) {
	inst := Start(t)
	const iqn = "iqn.2026-12.test:portal"
	inst.Apply(TargetSpec{TID: 1, IQN: iqn, LUNs: []LUNSpec{{Size: 1 << 20}}})
	second := inst.AddPortal()
	if second == inst.Addr() {
		t.Fatalf("AddPortal returned the first portal %s", second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var serials []string
	for _, url := range []string{inst.TargetURL(iqn, 1), "iscsi://" + second + "/" + iqn + "/1"} {
		s, err := session.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		usn, err := s.DefaultUnit().UnitSerialNumber(ctx)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		serials = append(serials, usn)
	}
	if serials[0] != serials[1] || serials[0] == "" {
		t.Fatalf("serial through the first portal %q, through the second %q", serials[0], serials[1])
	}
}
