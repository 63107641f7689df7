//go:build !amd64 || purego

package digest

import "hash/crc32"

// hasAVX512 and useAVX512: see crc_amd64.go. Without it, every length goes
// to hash/crc32.
const hasAVX512 = false

var useAVX512 = false

func update(crc uint32, p []byte) uint32 {
	return crc32.Update(crc, table, p)
}
