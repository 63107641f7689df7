package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// samples holds one fully populated value of every PDU type. Every field has a
// distinct non-zero value so that a field written to the wrong offset shows.
func samples() []Message {
	return []Message{
		&NOPOut{Immediate: true, DataSegmentLength: 5, LUN: 0x0001000000000000, ITT: 0x11, TTT: 0x22, CmdSN: 0x33, ExpStatSN: 0x44},
		&NOPIn{DataSegmentLength: 6, LUN: 0x0002000000000000, ITT: 0xffffffff, TTT: 0x21, StatSN: 0x31, ExpCmdSN: 0x41, MaxCmdSN: 0x51},
		&SCSICommand{Immediate: true, Final: true, Read: true, Write: true, Attr: AttrOrdered, TotalAHSLength: 3,
			DataSegmentLength: 512, LUN: 0x0003000000000000, ITT: 0x12, ExpectedDataTransferLength: 4096, CmdSN: 0x13, ExpStatSN: 0x14,
			CDB: [16]byte{0x28, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		&SCSIResponse{BidiOverflow: true, BidiUnderflow: true, Overflow: true, Underflow: true, Response: 1, Status: 2, TotalAHSLength: 1,
			DataSegmentLength: 18, ITT: 0x15, SNACKTag: 0x16, StatSN: 0x17, ExpCmdSN: 0x18, MaxCmdSN: 0x19, ExpDataSN: 0x1a,
			BidiReadResidualCount: 0x1b, ResidualCount: 0x1c},
		&TaskMgmtRequest{Immediate: true, Function: TMFAbortTask, DataSegmentLength: 1, LUN: 0x0004000000000000, ITT: 0x1d,
			ReferencedTaskTag: 0x1e, CmdSN: 0x1f, ExpStatSN: 0x20, RefCmdSN: 0x21, ExpDataSN: 0x22},
		&TaskMgmtResponse{Response: TMRTaskDoesNotExist, DataSegmentLength: 2, ITT: 0x23, StatSN: 0x24, ExpCmdSN: 0x25, MaxCmdSN: 0x26},
		&LoginRequest{Transit: true, Continue: true, CSG: StageOperational, NSG: StageFullFeature, VersionMax: 1, VersionMin: 2,
			DataSegmentLength: 300, ISID: ISID{0x80, 1, 2, 3, 4, 5}, TSIH: 0x2728, ITT: 0x29, CID: 0x2a2b, CmdSN: 0x2c, ExpStatSN: 0x2d},
		&LoginResponse{Transit: true, Continue: true, CSG: StageSecurity, NSG: StageOperational, VersionMax: 3, VersionActive: 4,
			DataSegmentLength: 301, ISID: ISID{0x40, 9, 8, 7, 6, 5}, TSIH: 0x2e2f, ITT: 0x30, StatSN: 0x31, ExpCmdSN: 0x32, MaxCmdSN: 0x33,
			StatusClass: 2, StatusDetail: 1},
		&TextRequest{Immediate: true, Final: true, Continue: true, DataSegmentLength: 17, LUN: 0x0005000000000000, ITT: 0x34, TTT: 0x35, CmdSN: 0x36, ExpStatSN: 0x37},
		&TextResponse{Final: true, Continue: true, DataSegmentLength: 19, LUN: 0x0006000000000000, ITT: 0x38, TTT: 0x39, StatSN: 0x3a, ExpCmdSN: 0x3b, MaxCmdSN: 0x3c},
		&DataOut{Final: true, DataSegmentLength: 8192, LUN: 0x0007000000000000, ITT: 0x3d, TTT: 0x3e, ExpStatSN: 0x3f, DataSN: 0x40, BufferOffset: 0x41},
		&DataIn{Final: true, Acknowledge: true, Overflow: true, Underflow: true, HasStatus: true, Status: 0x02, DataSegmentLength: 8193,
			LUN: 0x0008000000000000, ITT: 0x42, TTT: 0x43, StatSN: 0x44, ExpCmdSN: 0x45, MaxCmdSN: 0x46, DataSN: 0x47, BufferOffset: 0x48, ResidualCount: 0x49},
		&LogoutRequest{Immediate: true, ReasonCode: LogoutCloseConnection, DataSegmentLength: 3, ITT: 0x4a, CID: 0x4b4c, CmdSN: 0x4d, ExpStatSN: 0x4e},
		&LogoutResponse{Response: LogoutCleanupFailed, DataSegmentLength: 4, ITT: 0x4f, StatSN: 0x50, ExpCmdSN: 0x51, MaxCmdSN: 0x52, Time2Wait: 0x53, Time2Retain: 0x54},
		&SNACKRequest{Type: SNACKRData, DataSegmentLength: 7, LUN: 0x0009000000000000, ITT: 0x55, TTT: 0x56, ExpStatSN: 0x57, BegRun: 0x58, RunLength: 0x59},
		&R2T{DataSegmentLength: 8, LUN: 0x000a000000000000, ITT: 0x5a, TTT: 0x5b, StatSN: 0x5c, ExpCmdSN: 0x5d, MaxCmdSN: 0x5e, R2TSN: 0x5f,
			BufferOffset: 0x60, DesiredDataTransferLength: 0x61},
		&AsyncMessage{DataSegmentLength: 9, LUN: 0x000b000000000000, StatSN: 0x62, ExpCmdSN: 0x63, MaxCmdSN: 0x64, AsyncEvent: AsyncLogoutRequest,
			AsyncVCode: 0x65, Parameter1: 0x66, Parameter2: 0x67, Parameter3: 0x68},
		&Reject{Reason: RejectProtocolError, DataSegmentLength: 48, StatSN: 0x69, ExpCmdSN: 0x6a, MaxCmdSN: 0x6b, DataSN: 0x6c},
	}
}

func TestRoundTripEveryOpcode(t *testing.T) {
	seen := map[Opcode]bool{}
	var d Decoder
	for _, m := range samples() {
		t.Run(m.Opcode().String(), func(t *testing.T) {
			seen[m.Opcode()] = true
			var b BHS
			m.Encode(&b)
			if b.Opcode() != m.Opcode() {
				t.Fatalf("encoded opcode %v", b.Opcode())
			}
			got, err := d.Decode(&b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
			fresh := New(m.Opcode())
			if err := fresh.Decode(&b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, fresh); diff != "" {
				t.Fatalf("New+Decode (-want +got):\n%s", diff)
			}
			// Encoding is idempotent: a second encode gives the same bytes.
			var b2 BHS
			got.Encode(&b2)
			if b != b2 {
				t.Fatalf("re-encode differs:\n%x\n%x", b, b2)
			}
		})
	}
	if len(seen) != 18 {
		t.Fatalf("covered %d opcodes, want all 18", len(seen))
	}
}

func TestDecodeWrongOpcode(t *testing.T) {
	var b BHS
	(&NOPIn{}).Encode(&b)
	if err := new(DataIn).Decode(&b); !errors.Is(err, ErrOpcode) {
		t.Fatalf("DataIn.Decode(NOP-In) = %v, want ErrOpcode", err)
	}
	b[0] = 0x3e
	var d Decoder
	if _, err := d.Decode(&b); !errors.Is(err, ErrOpcode) {
		t.Fatalf("Decode(0x3e) = %v, want ErrOpcode", err)
	}
	if New(0x3e) != nil || Opcode(0x3e).Known() {
		t.Fatal("0x3e must be unknown")
	}
}

// TestFieldOffsets checks byte positions against RFC 7143 §11 by hand for the
// PDUs on the hot path, independently of the decoders.
func TestFieldOffsets(t *testing.T) {
	var b BHS
	(&SCSICommand{Immediate: true, Final: true, Read: true, Attr: AttrSimple, LUN: 1 << 48, ITT: 0xa1b2c3d4,
		ExpectedDataTransferLength: 0x1000, CmdSN: 7, ExpStatSN: 9, CDB: [16]byte{0x28}}).Encode(&b)
	want := BHS{0: 0x41, 1: 0xc1, 9: 0x01, 16: 0xa1, 17: 0xb2, 18: 0xc3, 19: 0xd4, 22: 0x10, 27: 7, 31: 9, 32: 0x28}
	if b != want {
		t.Fatalf("SCSI Command:\n got %x\nwant %x", b, want)
	}
	b = BHS{0: 0x25, 1: 0x81, 3: 0x02, 5: 0x01, 6: 0x02, 7: 0x03, 16: 0, 19: 5, 23: 0xff, 39: 2, 42: 0x10}
	var d DataIn
	if err := d.Decode(&b); err != nil {
		t.Fatal(err)
	}
	wantD := DataIn{Final: true, HasStatus: true, Status: 2, DataSegmentLength: 0x010203, ITT: 5, TTT: 0xff, DataSN: 2, BufferOffset: 0x1000}
	if d != wantD {
		t.Fatalf("Data-In: got %+v want %+v", d, wantD)
	}
	if b.DataSegmentLength() != 0x010203 || b.ITT() != 5 || !b.Final() {
		t.Fatal("BHS accessors")
	}
	// Login request: I bit always set, CSG/NSG in bits 2-3 and 0-1.
	(&LoginRequest{Transit: true, CSG: StageOperational, NSG: StageFullFeature}).Encode(&b)
	if b[0] != 0x43 || b[1] != 0x87 {
		t.Fatalf("Login request bytes 0-1 = %x %x, want 43 87", b[0], b[1])
	}
	// Reject and Async carry the reserved ITT.
	(&Reject{}).Encode(&b)
	if b.ITT() != ReservedITT {
		t.Fatal("Reject ITT")
	}
}

func TestAppendWholePDU(t *testing.T) {
	data := []byte("HeaderDigest=CRC32C\x00")
	data = append(data, 'X') // 21 bytes: 3 bytes of padding
	m := &TextRequest{Final: true, ITT: 1, CmdSN: 2, ExpStatSN: 3, DataSegmentLength: 999}
	for _, d := range []Digests{{}, {Header: true}, {Data: true}, {true, true}} {
		out := Append(nil, m, nil, data, d)
		b := (*BHS)(out[:BHSLen])
		if b.DataSegmentLength() != len(data) {
			t.Fatalf("DataSegmentLength %d, want %d (data wins over the field)", b.DataSegmentLength(), len(data))
		}
		if got, want := len(out), b.WireLength(d); got != want {
			t.Fatalf("%+v: length %d, WireLength %d", d, got, want)
		}
		off := BHSLen
		if d.Header {
			if got := binary.LittleEndian.Uint32(out[off:]); got != digestOf(out[:BHSLen]) {
				t.Fatalf("header digest %08x", got)
			}
			off += 4
		}
		if !bytes.Equal(out[off:off+len(data)], data) {
			t.Fatal("data not in place")
		}
		off += len(data)
		if !bytes.Equal(out[off:off+3], []byte{0, 0, 0}) {
			t.Fatal("padding not zero")
		}
		off += 3
		if d.Data {
			if got := binary.LittleEndian.Uint32(out[off:]); got != digestOf(append(append([]byte{}, data...), 0, 0, 0)) {
				t.Fatalf("data digest %08x", got)
			}
		}
	}
	// No data: no padding and no data digest.
	out := Append(nil, &NOPOut{}, nil, nil, Digests{Header: true, Data: true})
	if len(out) != BHSLen+4 {
		t.Fatalf("NOP-Out without data is %d bytes", len(out))
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 1024)
	m := &SCSICommand{Final: true, Read: true, ITT: 1, ExpectedDataTransferLength: 4096, CDB: [16]byte{0x28}}
	data := make([]byte, 100)
	var msg Message = m
	if n := testing.AllocsPerRun(100, func() {
		buf = Append(buf[:0], msg, nil, data, Digests{Header: true, Data: true})
	}); n != 0 {
		t.Fatalf("Append allocated %v times", n)
	}
	var d Decoder
	b := (*BHS)(buf[:BHSLen])
	if n := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Decode allocated %v times", n)
	}
	// Idempotent: encoding twice gives the same bytes.
	a := Append(nil, msg, nil, data, Digests{true, true})
	c := Append(nil, msg, nil, data, Digests{true, true})
	if !bytes.Equal(a, c) {
		t.Fatal("Append not idempotent")
	}
}

func TestCommandAHS(t *testing.T) {
	cases := []CommandAHS{
		{},
		{ExtendedCDB: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		{ExtendedCDB: []byte{1}},
		{BidiReadLength: 0x01020304, HasBidiReadLength: true},
		{ExtendedCDB: []byte{9, 9, 9}, BidiReadLength: 7, HasBidiReadLength: true},
	}
	for _, c := range cases {
		b := AppendCommandAHS(nil, c)
		if len(b)%4 != 0 {
			t.Fatalf("AHS %+v not padded: %d", c, len(b))
		}
		got, err := ParseCommandAHS(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
			t.Fatalf("AHS round trip:\n%s", diff)
		}
	}
	// Extended CDB of 16 extra bytes: AHSLength 17, padded to 20.
	b := AppendCommandAHS(nil, CommandAHS{ExtendedCDB: make([]byte, 16)})
	if len(b) != 20 || b[0] != 0 || b[1] != 17 || b[2] != AHSExtendedCDB {
		t.Fatalf("extended CDB AHS layout %x", b)
	}
	bad := [][]byte{
		{0, 5, 2},                // truncated header
		{0, 0, 1, 0},             // zero length
		{0, 9, 1, 0, 1, 2, 3, 4}, // overruns
		{0, 1, 7, 0},             // unknown type
		{0, 2, 2, 0, 1, 0, 0, 0}, // bidi with wrong length
		{0, 5, 2, 0, 0, 0, 0, 1, 0, 5, 2, 0, 0, 0, 0, 1}, // twice
	}
	for _, in := range bad {
		if _, err := ParseCommandAHS(in); !errors.Is(err, ErrAHS) {
			t.Errorf("ParseCommandAHS(%x) = %v, want ErrAHS", in, err)
		}
	}
}

func TestLimits(t *testing.T) {
	var b BHS
	(&DataIn{}).Encode(&b)
	b.setDataSegmentLength(8193)
	l := Limits{MaxDataSegmentLength: 8192}
	if err := l.Check(&b); !errors.Is(err, ErrDataSegmentTooLong) {
		t.Fatalf("Check = %v", err)
	}
	b.setDataSegmentLength(8192)
	if err := l.Check(&b); err != nil {
		t.Fatal(err)
	}
	b[4] = 1
	if err := l.Check(&b); !errors.Is(err, ErrAHSTooLong) {
		t.Fatalf("Check AHS = %v", err)
	}
	l.MaxAHSLength = 4
	if err := l.Check(&b); err != nil {
		t.Fatal(err)
	}
}

func TestSerialArithmetic(t *testing.T) {
	cases := []struct {
		a, b uint32
		less bool
	}{
		{0, 1, true},
		{1, 0, false},
		{5, 5, false},
		{0xffffffff, 0, true}, // wrap-around
		{0xfffffff0, 0x10, true},
		{0x10, 0xfffffff0, false},
		{0, 0x7fffffff, true},
		{0, 0x80000000, false}, // exactly 2^31 apart: unordered
		{0x80000000, 0, false},
		{0x7fffffff, 0xfffffffe, true},
		{0x7fffffff, 0xffffffff, false}, // 2^31 apart again
	}
	for _, c := range cases {
		if got := SNLess(c.a, c.b); got != c.less {
			t.Errorf("SNLess(%#x, %#x) = %v, want %v", c.a, c.b, got, c.less)
		}
		if got := SNGreater(c.b, c.a); got != c.less {
			t.Errorf("SNGreater(%#x, %#x) = %v, want %v", c.b, c.a, got, c.less)
		}
	}
	if !SNInWindow(0, 0xfffffffe, 2) || SNInWindow(3, 0xfffffffe, 2) || !SNInWindow(2, 2, 2) {
		t.Error("SNInWindow across wrap")
	}
	if !SNLessEq(3, 3) || SNLessEq(4, 3) {
		t.Error("SNLessEq")
	}
	if SNDistance(0xffffffff, 1) != 2 || SNDistance(1, 0xffffffff) != -2 {
		t.Error("SNDistance")
	}
}

func digestOf(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
