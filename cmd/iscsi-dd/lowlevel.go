package main

import (
	"context"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// unmap sends one UNMAP of ds.
func unmap(ctx context.Context, s *session.Session, ds []scsi.UnmapDescriptor) error {
	params, err := scsi.AppendUnmapParameters(make([]byte, 0, scsi.UnmapParametersLen(len(ds))), ds)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	f := s.Execute(ctx, s.LUN(), scsi.Unmap(false, 0, uint16(len(params))), session.DirWrite, iovector.New(params))
	_, err = f.Wait()
	return err
}

// readsZero reports whether blocks of status st read back without data:
// deallocated or anchored (both read as LBPRZ says; we use it only when
// LBPRZ is set or the data is not wanted).
func readsZero(st scsi.ProvisioningStatus) bool {
	return st == scsi.LBADeallocated || st == scsi.LBAAnchored
}
