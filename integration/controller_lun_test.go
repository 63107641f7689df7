package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/session"
)

// TestControllerLUNIsNotABlockDevice: tgtd's LUN 0 is a storage array
// controller; the block API says so instead of passing on READ
// CAPACITY's INVALID OPCODE alone.
func TestControllerLUNIsNotABlockDevice(t *testing.T) {
	t.Parallel()
	inst, _ := opsTarget(t)
	s, _ := dialUnit(t, inst, 0, nil)
	_, err := s.ReadAt(make([]byte, 512), 0)
	if !errors.Is(err, session.ErrNotBlockDevice) || !strings.Contains(err.Error(), "peripheral type 0x0c") {
		t.Fatalf("ReadAt on LUN 0 = %v, want ErrNotBlockDevice naming the peripheral type", err)
	}
}
