//go:build !linux

package blockcopy

import (
	"context"
	"os"
)

// fileMapper: SEEK_DATA and SEEK_HOLE are used on Linux only; elsewhere a
// file is all data.
func fileMapper(*os.File) func(ctx context.Context, off int64) (bool, int64, error) { return nil }

// filePunch: holes are punched on Linux only; elsewhere zeros are written.
func filePunch(*os.File) func(ctx context.Context, off, n int64) error { return nil }
