package session

import (
	"fmt"
	"io"
)

// String describes the session for logs and errors:
// "iscsi session iqn.x at 10.0.0.1:3260 LUN 1 ISID 80123456789a (open)". It
// reads only what does not change after Dial (target, portal, LUN, ISID)
// and the closing channel, so it is safe while the session's goroutines
// run; it never shows a credential.
func (s *Session) String() string {
	if s == nil {
		return "<nil>"
	}
	state := "open"
	select {
	case <-s.closing:
		state = "closed"
	default:
	}
	where := s.Portal()
	if s.target != "" {
		where = s.target + " at " + where + " LUN " + s.LUN().String()
	}
	return fmt.Sprintf("iscsi session %s ISID %v (%s)", where, s.isid, state)
}

// Format prints String for every verb (%v, %+v, %#v, %s, %q): the default
// formatting of the struct would read fields the session's goroutines
// write (a data race) and dump its configuration.
func (s *Session) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	io.WriteString(f, s.String())
}
