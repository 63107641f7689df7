package scsi

import (
	"errors"
	"fmt"
	"testing"
)

func TestMiscompareOffset(t *testing.T) {
	// Fixed format: VALID bit 7 of byte 0, SENSE KEY 0xe, INFORMATION
	// bytes 3-6, ASC/ASCQ 12-13.
	fixed := []byte{0xf0, 0, 0x0e, 0, 0, 0x02, 0x05, 10, 0, 0, 0, 0, 0x1d, 0x00, 0, 0, 0, 0}
	// Descriptor format: SENSE KEY byte 1, ASC/ASCQ 2-3; an
	// information descriptor (type 0, length 0x0a, VALID bit 7 of its
	// byte 2, INFORMATION its bytes 4-11).
	desc := []byte{0x72, 0x0e, 0x1d, 0x00, 0, 0, 0, 12,
		0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x01}
	for _, tt := range []struct {
		name  string
		sense []byte
		want  uint64
		ok    bool
	}{
		{"fixed", fixed, 0x0205, true},
		{"descriptor", desc, 0x1001, true},
		{"fixed, INFORMATION not valid", append([]byte{0x70}, fixed[1:]...), 0, false},
		{"descriptor, VALID clear", append(append([]byte{}, desc[:10]...), append([]byte{0x00}, desc[11:]...)...), 0, false},
		{"other ASC", []byte{0xf0, 0, 0x0e, 0, 0, 0, 5, 10, 0, 0, 0, 0, 0x1d, 0x01, 0, 0, 0, 0}, 0, false},
		{"other key", []byte{0xf0, 0, 0x05, 0, 0, 0, 5, 10, 0, 0, 0, 0, 0x1d, 0x00, 0, 0, 0, 0}, 0, false},
	} {
		err := fmt.Errorf("write at 8: %w", NewStatusError(StatusCheckCondition, tt.sense))
		var se *StatusError
		if !errors.As(err, &se) {
			t.Fatalf("%s: no StatusError in %v", tt.name, err)
		}
		off, ok := se.MiscompareOffset()
		if off != tt.want || ok != tt.ok {
			t.Errorf("%s: MiscompareOffset = %d, %v; want %d, %v", tt.name, off, ok, tt.want, tt.ok)
		}
		if tt.ok && (!errors.Is(err, ErrMiscompareDuringVerify) || !errors.Is(err, ErrMiscompare)) {
			t.Errorf("%s: %v does not match the miscompare sentinels", tt.name, err)
		}
	}
	se := &StatusError{Status: StatusGood}
	if _, ok := se.MiscompareOffset(); ok {
		t.Error("offset without sense")
	}
}

func TestReservationConflict(t *testing.T) {
	err := fmt.Errorf("register: %w", NewStatusError(StatusReservationConflict, nil))
	if !errors.Is(err, ErrReservationConflict) {
		t.Fatalf("%v is not ErrReservationConflict", err)
	}
	if errors.Is(err, ErrBusy) || errors.Is(err, ErrIllegalRequest) || IsRetryable(err) {
		t.Errorf("%v matches other conditions", err)
	}
	if errors.Is(NewStatusError(StatusBusy, nil), ErrReservationConflict) {
		t.Error("BUSY is a reservation conflict")
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Status != StatusReservationConflict || se.Error() != "scsi: RESERVATION CONFLICT" {
		t.Errorf("StatusError %+v", se)
	}
}

func TestParameterListConditions(t *testing.T) {
	for _, tt := range []struct {
		asc      ASC
		sentinel error
	}{
		{ASCInvalidFieldInParamList, ErrInvalidFieldInParamList},
		{ASCParameterListLengthError, ErrParameterListLength},
		{ASCSpaceAllocationFailed, ErrSpaceAllocationFailed},
	} {
		err := NewStatusError(StatusCheckCondition, fixedSense(SenseIllegalRequest, tt.asc))
		if !errors.Is(err, tt.sentinel) || errors.Is(err, ErrInvalidFieldInCDB) {
			t.Errorf("%v: Is(%v) false", err, tt.sentinel)
		}
	}
	if errors.Is(NewStatusError(StatusCheckCondition, fixedSense(SenseIllegalRequest, ASCInvalidFieldInCDB)), ErrInvalidFieldInParamList) {
		t.Error("INVALID FIELD IN CDB is INVALID FIELD IN PARAMETER LIST")
	}
}
