package main

import (
	"fmt"
	"testing"

	"github.com/iscsi-go/iscsi/scsi"
)

func TestLUNSize(t *testing.T) {
	tests := []struct {
		block, lastLBA uint32
		want           string
	}{
		{0, 0, "0 "},
		{512, 0, "0 "},
		{512, 1, "512 "},
		{512, 2, "1024 "},                        // not above 1024: stays in bytes
		{512, 3, "1k"},                           // 1536 / 1024
		{1024, 1024, "1024k"},                    // 1 MiB stays 1024k
		{512, 2097151, "1023M"},                  // 1 GiB LUN: last LBA, not count
		{4096, 16383, "63M"},                     // 64 MiB of 4 KiB blocks
		{512, 1<<31 - 1, "1023G"},                // tgtd's 1 TiB null LUN
		{4096, 0xffffffff, "15T"},                // largest READ CAPACITY(10)
		{0xffffffff, 0xffffffff, "-8589934591 "}, // signed 64-bit wrap, as in C
		{0x80000000, 0x80000000, "4194304T"},     // four divisions at most
	}
	for _, tt := range tests {
		n, u := lunSize(tt.block, tt.lastLBA)
		if got := fmt.Sprintf("%d%c", n, u); got != tt.want {
			t.Errorf("lunSize(%d, %d) = %q, want %q", tt.block, tt.lastLBA, got, tt.want)
		}
	}
}

func TestLUNNumber(t *testing.T) {
	flat, err := scsi.EncodeLUN(300)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lun  scsi.LUN
		want uint64
	}{
		{0, 0},
		{1 << 48, 1},
		{255 << 48, 255},
		{flat, 300},
		{0x0101 << 48, 0x0101},             // peripheral, bus 1: first level
		{scsi.WellKnownReportLUNs, 0xc101}, // well-known: first level
		{0x0001_0002 << 32, 0x0001},        // two levels: first level
	}
	for _, tt := range tests {
		if got := lunNumber(tt.lun); got != tt.want {
			t.Errorf("lunNumber(%#016x) = %d, want %d", uint64(tt.lun), got, tt.want)
		}
	}
}

func TestAddressWithoutTPGT(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:3260,1":   "127.0.0.1:3260",
		"[::1]:3260,12":      "[::1]:3260",
		"10.0.0.1:3260":      "10.0.0.1:3260",
		"host.example:860,1": "host.example:860",
	} {
		if got := addressWithoutTPGT(in); got != want {
			t.Errorf("addressWithoutTPGT(%q) = %q, want %q", in, got, want)
		}
	}
}
