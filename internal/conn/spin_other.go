//go:build !linux

package conn

// spinReader: no raw non-blocking read here; the socket is read with
// net.Conn.Read and the reader never spins.
type spinReader struct{}

func (c *Conn) initSpin() {}

func (c *Conn) readSocket(p []byte, _ spinMode) (int, error) { return c.nc.Read(p) }
