package faketarget

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// FuzzServe feeds arbitrary bytes to Serve: from the first byte of the
// connection when in[0] is even (the login parser), after a good login when
// it is odd (full feature phase). Bits 2 and 3 of in[0] turn on
// Config.Sanitize and Config.ExtendedCopy (their parameter lists). Serve
// must return, never panic.
func FuzzServe(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		// Small LUNs: a READ of a huge null LUN would only be slow.
		tg, err := New(Config{LUNs: []LUN{{Number: 1, Blocks: 16}, {Number: 2, Blocks: 64, Null: true}},
			MaxRecvDataSegmentLength: 1024, FirstBurstLength: 1024, MaxBurstLength: 2048, TextSegmentLength: 16,
			UnitAttention: in[0]&2 != 0, Sanitize: in[0]&4 != 0, ExtendedCopy: in[0]&8 != 0})
		if err != nil {
			t.Fatal(err)
		}
		a, b := net.Pipe()
		// A hang is a bug too: dump every goroutine and crash so that the
		// fuzzer keeps the input.
		watchdog := time.AfterFunc(20*time.Second, func() {
			buf := make([]byte, 1<<20)
			os.Stderr.Write(buf[:runtime.Stack(buf, true)])
			panic("faketarget: Serve hung")
		})
		defer watchdog.Stop()
		done := make(chan error, 1)
		go func() { done <- tg.Serve(b) }()
		if in[0]&1 == 1 {
			i := newIni(t, a)
			offer := keys.DefaultOffer()
			offer.HeaderDigest, offer.DataDigest = []string{"None"}, []string{"None"}
			if err := i.login(loginOpts{offer: offer, offerSet: true}); err != nil {
				t.Fatalf("login: %v", err)
			}
		}
		drained := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, a); close(drained) }()
		_, _ = a.Write(in[1:])
		a.Close()
		<-done
		<-drained
	})
}

// fuzzSeeds are a login and PDUs of full feature phase, framed without
// digests.
func fuzzSeeds() [][]byte {
	frame := func(m pdu.Message, data []byte) []byte { return pdu.Append(nil, m, nil, data, pdu.Digests{}) }
	login := append([]byte{0}, frame(&pdu.LoginRequest{Transit: true, CSG: 1, NSG: 3, ITT: 1, CmdSN: 7},
		keys.AppendPairs(nil, keys.LoginDeclarations("iqn.x:i", "", DefaultName, false)...))...)
	ffp := func(pdus ...[]byte) []byte {
		out := []byte{1}
		for _, p := range pdus {
			out = append(out, p...)
		}
		return out
	}
	read := frame(&pdu.SCSICommand{Final: true, Read: true, LUN: wireLUN(1), ITT: 9, CmdSN: 7, ExpectedDataTransferLength: 4096,
		CDB: scsi.Read10(0, 8, 0).Array()}, nil)
	write := frame(&pdu.SCSICommand{Write: true, LUN: wireLUN(1), ITT: 10, CmdSN: 8, ExpectedDataTransferLength: 2048,
		CDB: scsi.Write10(2, 4, 0).Array()}, make([]byte, 512))
	dataOut := frame(&pdu.DataOut{Final: true, LUN: wireLUN(1), ITT: 10, TTT: pdu.ReservedITT, BufferOffset: 512}, make([]byte, 512))
	text := frame(&pdu.TextRequest{Final: true, ITT: 11, TTT: pdu.ReservedITT, CmdSN: 9},
		keys.AppendPairs(nil, keys.Pair{Key: "SendTargets", Value: ""}))
	nop := frame(&pdu.NOPOut{ITT: 12, TTT: pdu.ReservedITT, CmdSN: 10}, []byte("hello"))
	tmf := frame(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFAbortTask, LUN: wireLUN(1), ITT: 13, ReferencedTaskTag: 10, CmdSN: 11}, nil)
	inq := frame(&pdu.SCSICommand{Final: true, Read: true, ITT: 14, CmdSN: 11, ExpectedDataTransferLength: 255,
		CDB: scsi.InquiryVPD(scsi.VPDDeviceIdentification, 255).Array()}, nil)
	logout := frame(&pdu.LogoutRequest{Immediate: true, ITT: 15, CmdSN: 12}, nil)
	// Sanitize and ExtendedCopy (first byte 1|4|8): commands with
	// parameter lists, and those that answer with data.
	withData := func(itt, cmdSN uint32, cdb scsi.CDB, data []byte) []byte {
		return frame(&pdu.SCSICommand{Final: true, Write: true, LUN: wireLUN(1), ITT: itt, CmdSN: cmdSN,
			ExpectedDataTransferLength: uint32(len(data)), CDB: cdb.Array()}, data)
	}
	readCmd := func(itt, cmdSN uint32, cdb scsi.CDB, n uint32) []byte {
		return frame(&pdu.SCSICommand{Final: true, Read: true, LUN: wireLUN(1), ITT: itt, CmdSN: cmdSN,
			ExpectedDataTransferLength: n, CDB: cdb.Array()}, nil)
	}
	overwrite := append([]byte{0x01, 0, 0x00, 0x04}, 0xaa, 0xbb, 0xcc, 0xdd)
	modeSelect := []byte{0, 0, 0, 0, 0x0a, 0x0a, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0}
	xcopy := make([]byte, 16+32+28)
	xcopy[3], xcopy[11] = 32, 28
	copy(xcopy[16:], []byte{0xe4, 0, 0, 0, 0x01, 0x03, 0, 8})
	copy(xcopy[24:], naaDesignator(1))
	xcopy[16+30] = 0x02 // block length 512
	copy(xcopy[48:], []byte{0x02, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 1})
	xcopy[48+27] = 8 // destination LBA 8
	extra := []byte{13}
	for _, p := range [][]byte{
		withData(20, 7, scsi.Sanitize(scsi.SanitizeOverwrite, false, false, uint16(len(overwrite))), overwrite),
		readCmd(21, 8, scsi.GetLBAStatus(0, 64), 64),
		readCmd(22, 9, scsi.ReportSupportedOpCodes(true, 1024), 1024),
		withData(23, 10, scsi.ModeSelect6(true, false, uint8(len(modeSelect))), modeSelect),
		readCmd(24, 11, scsi.ModeSense6(false, scsi.PageCurrent, 0x3f, 0, 255), 255),
		withData(25, 12, scsi.ExtendedCopy(uint32(len(xcopy))), xcopy),
		frame(&pdu.SCSICommand{Final: true, LUN: wireLUN(1), ITT: 26, CmdSN: 13, CDB: scsi.Sanitize(scsi.SanitizeBlockErase, false, false, 0).Array()}, nil),
	} {
		extra = append(extra, p...)
	}
	return [][]byte{login, ffp(read, write, dataOut, text, nop, tmf, inq, logout), ffp(write, tmf, dataOut), ffp(text, frame(&pdu.TextRequest{Final: true, ITT: 11, TTT: 1, CmdSN: 10}, nil)), extra}
}

// TestWriteFuzzSeeds writes the seed corpus into testdata when
// FAKETARGET_WRITE_SEEDS is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FAKETARGET_WRITE_SEEDS") == "" {
		t.Skip("set FAKETARGET_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzServe seeds")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzServe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, s := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", k)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
