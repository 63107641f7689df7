package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/scsi"
)

func TestLibiscsiStatus(t *testing.T) {
	for _, c := range []struct {
		status scsi.Status
		sense  []byte
		want   string
	}{
		{scsi.StatusCheckCondition, []byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00}, "SENSE KEY:ILLEGAL_REQUEST(5) ASCQ:INVALID_OPERATION_CODE(0x2000)"},
		{scsi.StatusCheckCondition, []byte{0x70, 0, 0x07, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x27, 0x02}, "SENSE KEY:DATA PROTECTION(7) ASCQ:SOFTWARE_WRITE_PROTECTED(0x2702)"},
		{scsi.StatusCheckCondition, []byte{0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00}, "SENSE KEY:(null)(3) ASCQ:(null)(0x1100)"},
		{scsi.StatusReservationConflict, nil, "RESERVATION CONFLICT"},
		{scsi.StatusBusy, nil, "BUSY"},
		{0x7e, nil, "Unknown SCSI status :126."},
	} {
		se := scsi.NewStatusError(c.status, c.sense).(*scsi.StatusError)
		if got := libiscsiStatus(se); got != c.want {
			t.Errorf("status 0x%02x sense % x: %q, want %q", c.status, c.sense, got, c.want)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
