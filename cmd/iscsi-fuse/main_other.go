//go:build !(linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64))

package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "iscsi-fuse: not supported on %s/%s: FUSE mounts need Linux on a 64-bit architecture (go-fuse v2.12.1 does not build on 32-bit Linux)\n", runtime.GOOS, runtime.GOARCH)
	os.Exit(10)
}
