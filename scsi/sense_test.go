package scsi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixedSense builds 18-byte fixed format sense data as tgtd does
// (sense_data_build with the fixed format: 0x70, key, ADDITIONAL SENSE
// LENGTH 0x0a, ASC, ASCQ).
func fixedSense(key SenseKey, asc ASC) []byte {
	b := make([]byte, 18)
	b[0] = 0x70
	b[2] = byte(key)
	b[7] = 0x0a
	b[12], b[13] = asc.Code(), asc.Qualifier()
	return b
}

func TestParseFixedSense(t *testing.T) {
	s, err := ParseSense(fixedSense(SenseIllegalRequest, ASCInvalidFieldInCDB))
	if err != nil {
		t.Fatal(err)
	}
	want := Sense{ResponseCode: 0x70, Key: SenseIllegalRequest, ASC: 0x2400}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := s.String(); got != "ILLEGAL REQUEST, ASC/ASCQ 0x24/0x00 INVALID FIELD IN CDB" {
		t.Errorf("String = %q", got)
	}

	// Every field of SPC-4.
	b := []byte{
		0x80 | 0x71,                      // VALID, deferred
		0,                                // obsolete
		0x80 | 0x40 | 0x20 | 0x10 | 0x03, // FILEMARK EOM ILI SDAT_OVFL, MEDIUM ERROR
		0x01, 0x02, 0x03, 0x04,           // INFORMATION
		12,                     // ADDITIONAL SENSE LENGTH
		0x05, 0x06, 0x07, 0x08, // COMMAND-SPECIFIC INFORMATION
		0x11, 0x00, // UNRECOVERED READ ERROR
		0x42,                                  // FRU
		0x80 | 0x40 | 0x08 | 0x05, 0x00, 0x02, // SKSV, C/D, BPV, bit 5, field 2
		0xee, 0xee, // additional bytes
	}
	s, err = ParseSense(b)
	if err != nil {
		t.Fatal(err)
	}
	want = Sense{ResponseCode: 0x71, Key: SenseMediumError, ASC: ASCUnrecoveredReadError,
		InformationValid: true, Information: 0x01020304, CommandSpecific: 0x05060708,
		Filemark: true, EOM: true, ILI: true, SDATOvfl: true, FRU: 0x42,
		SKSV: true, SenseKeySpecific: [3]byte{0xcd, 0x00, 0x02}}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if s.Current() || s.DescriptorFormat() {
		t.Errorf("Current %v DescriptorFormat %v", s.Current(), s.DescriptorFormat())
	}
	cdb, field, bit, bitValid, ok := s.FieldPointer()
	if !ok || !cdb || field != 2 || bit != 5 || !bitValid {
		t.Errorf("FieldPointer = %v %d %d %v %v", cdb, field, bit, bitValid, ok)
	}
}

func TestParseFixedSenseShort(t *testing.T) {
	full := fixedSense(SenseNotReady, ASCMediumNotPresent)
	tests := []struct {
		n         int
		err       bool
		truncated bool
		asc       ASC
	}{
		{0, true, false, 0},
		{2, true, false, 0},
		{3, false, true, 0},
		{8, false, true, 0},
		{13, false, true, 0},
		{14, false, true, ASCMediumNotPresent},
		{18, false, false, ASCMediumNotPresent},
	}
	for _, tt := range tests {
		s, err := ParseSense(full[:tt.n])
		if (err != nil) != tt.err {
			t.Errorf("%d bytes: err %v", tt.n, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrShortData) {
				t.Errorf("%d bytes: %v is not ErrShortData", tt.n, err)
			}
			continue
		}
		if s.Key != SenseNotReady || s.Truncated != tt.truncated || s.ASC != tt.asc {
			t.Errorf("%d bytes: %+v", tt.n, s)
		}
	}
	// ADDITIONAL SENSE LENGTH 0 (8-byte sense): the bytes after are not
	// sense.
	b := fixedSense(SenseUnitAttention, ASCPowerOnReset)
	b[7] = 0
	s, _ := ParseSense(b)
	if s.ASC != 0 || s.Truncated {
		t.Errorf("additional length 0: %+v", s)
	}
}

func TestParseDescriptorSense(t *testing.T) {
	b := []byte{
		0x72, 0x03, 0x11, 0x00, 0x80, 0, 0, 44, // MEDIUM ERROR, UNRECOVERED READ ERROR, SDAT_OVFL
		0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, // information, VALID, 0x1234
		0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x56, // command specific
		0x02, 0x06, 0, 0, 0x80, 0x00, 0x10, 0, // sense key specific
		0x03, 0x02, 0, 0x09, // FRU 9
		0x05, 0x02, 0, 0x20, // block commands: ILI
		0x80, 0x02, 0xaa, 0xbb, // vendor descriptor kept raw
	}
	s, err := ParseSense(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Key != SenseMediumError || s.ASC != ASCUnrecoveredReadError || !s.SDATOvfl || !s.InformationValid ||
		s.Information != 0x1234 || s.CommandSpecific != 0x56 || !s.SKSV || s.SenseKeySpecific != [3]byte{0x80, 0, 0x10} ||
		s.FRU != 9 || !s.ILI || s.Truncated || !s.Current() || !s.DescriptorFormat() {
		t.Errorf("%+v", s)
	}
	if len(s.Descriptors) != 6 || s.Descriptors[5].Type != 0x80 || string(s.Descriptors[5].Data) != "\xaa\xbb" {
		t.Errorf("descriptors %+v", s.Descriptors)
	}
	cdb, field, _, bitValid, ok := s.FieldPointer()
	if !ok || cdb || field != 0x10 || bitValid {
		t.Errorf("FieldPointer = %v %d %v %v", cdb, field, bitValid, ok)
	}

	// Stream commands descriptor, deferred.
	s, err = ParseSense([]byte{0x73, 0x0d, 0x00, 0x02, 0, 0, 0, 4, 0x04, 0x02, 0, 0xe0})
	if err != nil || s.Current() || !s.Filemark || !s.EOM || !s.ILI || s.Key != SenseVolumeOverflow {
		t.Errorf("stream: %+v %v", s, err)
	}

	// Truncated in a descriptor, and an additional length beyond the data.
	s, err = ParseSense(b[:25])
	if err != nil || !s.Truncated || len(s.Descriptors) != 1 {
		t.Errorf("truncated: %+v %v", s, err)
	}
	// Header only.
	s, err = ParseSense(b[:4])
	if err != nil || !s.Truncated || s.ASC != ASCUnrecoveredReadError {
		t.Errorf("4 bytes: %+v %v", s, err)
	}
	if _, err = ParseSense(b[:3]); !errors.Is(err, ErrShortData) {
		t.Errorf("3 bytes: %v", err)
	}
	if _, err = ParseSense([]byte{0x7f, 0, 0, 0}); !errors.Is(err, ErrSenseFormat) {
		t.Errorf("0x7f: %v", err)
	}
}

func TestNamesOfCodes(t *testing.T) {
	tests := []struct{ got, want string }{
		{StatusCheckCondition.String(), "CHECK CONDITION"},
		{StatusTaskSetFull.String(), "TASK SET FULL"},
		{StatusACAActive.String(), "ACA ACTIVE"},
		{Status(0x99).String(), "STATUS 0x99"},
		{SenseDataProtect.String(), "DATA PROTECT"},
		{SenseCompleted.String(), "COMPLETED"},
		{SenseKey(0x10).String(), "SENSE KEY 0x10"},
		{ASCCapacityDataChanged.String(), "0x2a/0x09 CAPACITY DATA HAS CHANGED"},
		{ASC(0x9901).String(), "0x99/0x01"},
		{ASCLBAOutOfRange.Name(), "LOGICAL BLOCK ADDRESS OUT OF RANGE"},
		{ASCMediumNotPresent.Name(), "MEDIUM NOT PRESENT"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestStatusError(t *testing.T) {
	if err := NewStatusError(StatusGood, nil); err != nil {
		t.Errorf("GOOD: %v", err)
	}
	if err := NewStatusError(StatusConditionMet, nil); err != nil {
		t.Errorf("CONDITION MET: %v", err)
	}
	tests := []struct {
		name  string
		err   error
		msg   string
		is    []error
		isNot []error
		ua    bool
		retry bool
	}{
		{
			"invalid field", NewStatusError(StatusCheckCondition, fixedSense(SenseIllegalRequest, ASCInvalidFieldInCDB)),
			"scsi: CHECK CONDITION: ILLEGAL REQUEST, ASC/ASCQ 0x24/0x00 INVALID FIELD IN CDB",
			[]error{ErrIllegalRequest, ErrInvalidFieldInCDB}, []error{ErrUnitAttention, ErrBusy, ErrLBAOutOfRange}, false, false,
		},
		{
			"medium not present, tray open", NewStatusError(StatusCheckCondition, fixedSense(SenseNotReady, ASCMediumNotPresentOpen)),
			"scsi: CHECK CONDITION: NOT READY, ASC/ASCQ 0x3a/0x02 MEDIUM NOT PRESENT - TRAY OPEN",
			[]error{ErrNotReady, ErrMediumNotPresent}, []error{ErrIllegalRequest}, false, false,
		},
		{
			"capacity changed", NewStatusError(StatusCheckCondition, fixedSense(SenseUnitAttention, ASCCapacityDataChanged)),
			"scsi: CHECK CONDITION: UNIT ATTENTION, ASC/ASCQ 0x2a/0x09 CAPACITY DATA HAS CHANGED",
			[]error{ErrUnitAttention, ErrCapacityDataChanged}, []error{ErrPowerOnReset}, true, false,
		},
		{
			"power on", NewStatusError(StatusCheckCondition, fixedSense(SenseUnitAttention, ASCPowerOnOccurred)),
			"scsi: CHECK CONDITION: UNIT ATTENTION, ASC/ASCQ 0x29/0x01 POWER ON OCCURRED",
			[]error{ErrUnitAttention, ErrPowerOnReset}, nil, true, false,
		},
		{
			"write protected", NewStatusError(StatusCheckCondition, fixedSense(SenseDataProtect, ASCWriteProtected)),
			"scsi: CHECK CONDITION: DATA PROTECT, ASC/ASCQ 0x27/0x00 WRITE PROTECTED",
			[]error{ErrDataProtect, ErrWriteProtected}, nil, false, false,
		},
		{
			"unknown asc", NewStatusError(StatusCheckCondition, fixedSense(SenseHardwareError, 0x9901)),
			"scsi: CHECK CONDITION: HARDWARE ERROR, ASC/ASCQ 0x99/0x01",
			[]error{ErrHardwareError}, nil, false, false,
		},
		{"busy", NewStatusError(StatusBusy, nil), "scsi: BUSY", []error{ErrBusy}, []error{ErrTaskSetFull}, false, true},
		{"task set full", NewStatusError(StatusTaskSetFull, nil), "scsi: TASK SET FULL", []error{ErrTaskSetFull}, nil, false, true},
		{"reservation conflict", NewStatusError(StatusReservationConflict, nil), "scsi: RESERVATION CONFLICT", []error{ErrReservationConflict}, []error{ErrBusy}, false, false},
		{"check condition without sense", NewStatusError(StatusCheckCondition, nil), "scsi: CHECK CONDITION", nil, []error{ErrUnitAttention, ErrIllegalRequest}, false, false},
		{
			"bad sense", NewStatusError(StatusCheckCondition, []byte{0x00, 1, 2}),
			"scsi: CHECK CONDITION (scsi: unknown sense data format: response code 0x00)",
			nil, []error{ErrUnitAttention}, false, false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("read lba 7: %w", tt.err)
			if tt.err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.msg)
			}
			var se *StatusError
			if !errors.As(wrapped, &se) {
				t.Fatalf("errors.As failed")
			}
			for _, s := range tt.is {
				if !errors.Is(wrapped, s) {
					t.Errorf("not errors.Is %v", s)
				}
			}
			for _, s := range tt.isNot {
				if errors.Is(wrapped, s) {
					t.Errorf("errors.Is %v", s)
				}
			}
			if IsUnitAttention(wrapped) != tt.ua {
				t.Errorf("IsUnitAttention = %v", !tt.ua)
			}
			if IsRetryable(wrapped) != tt.retry {
				t.Errorf("IsRetryable = %v", !tt.retry)
			}
		})
	}
	if IsRetryable(errors.New("other")) || IsUnitAttention(nil) {
		t.Errorf("helpers match foreign errors")
	}
}
