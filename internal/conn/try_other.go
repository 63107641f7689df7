//go:build !linux

package conn

// tryWriter: no non-blocking writev here; TryWriteBatch writes nothing.
type tryWriter struct{}

func (c *Conn) initTry() {}

func (c *Conn) canTry() bool { return false }

func (c *Conn) tryWrite(*Batch) (bool, error) { return false, nil }
