//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package lunfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// File is one LUN of a Tree.
type File struct {
	// Dir is the directory of the file under the mount point: "" for the
	// top, the target's name for a portal URL.
	Dir string
	// Name is lun<N>.
	Name string
	Unit *session.LogicalUnit
	// WriteProtected: the LUN says so (the WP bit of MODE SENSE); its file
	// is read-only.
	WriteProtected bool
}

// Tree is what a URL shows: its files, and the sessions behind them.
type Tree struct {
	Files    []File
	sessions []*session.Session
}

// Kind is what a URL names.
type Kind int

// Kinds of URL.
const (
	KindLUN    Kind = iota // iscsi://host[:port]/target/lun: one file
	KindTarget             // iscsi://host[:port]/target: a file per LUN
	KindPortal             // iscsi://host[:port]: a directory per target
)

// Classify says what rawURL names, from the number of its path elements;
// it does not check the URL otherwise (Connect parses it).
func Classify(rawURL string) Kind {
	rest, _, _ := strings.Cut(strings.TrimPrefix(rawURL, "iscsi://"), "?")
	if _, after, ok := strings.Cut(rest, "@"); ok {
		rest = after
	}
	_, path, _ := strings.Cut(rest, "/")
	path = strings.TrimSuffix(path, "/")
	switch {
	case path == "":
		return KindPortal
	case !strings.Contains(path, "/"):
		return KindTarget
	}
	return KindLUN
}

// targetURL turns a target URL into one that names LUN 0 (whose session
// asks REPORT LUNS), the query kept.
func targetURL(rawURL string) string {
	base, query, hasQuery := strings.Cut(rawURL, "?")
	base = strings.TrimSuffix(base, "/") + "/0"
	if hasQuery {
		return base + "?" + query
	}
	return base
}

// Connect logs in to what rawURL names and finds its LUNs: a LUN URL's LUN
// (whatever its type); a target URL's LUNs that are disks (direct access
// block devices: a target's LUN 0 is often a controller); a portal URL's
// targets (SendTargets, each logged in to through the URL's portal) and
// their disks. Credentials come from the URL or the LIBISCSI_CHAP_*
// environment, as for every tool. On error every session it opened is
// closed.
func Connect(ctx context.Context, rawURL string, cfg *session.Config, log *slog.Logger) (*Tree, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tree{}
	err := t.connect(ctx, rawURL, cfg, log)
	if err == nil && len(t.Files) == 0 {
		err = errors.New("no disk LUN found behind the URL")
	}
	if err != nil {
		t.Close(ctx)
		return nil, err
	}
	return t, nil
}

func (t *Tree) connect(ctx context.Context, rawURL string, cfg *session.Config, log *slog.Logger) error {
	switch Classify(rawURL) {
	case KindLUN:
		u, err := iscsiurl.Parse(rawURL)
		if err != nil {
			return err
		}
		s, err := t.dial(ctx, u, cfg)
		if err != nil {
			return err
		}
		f := File{Name: fmt.Sprintf("lun%d", u.LUN), Unit: s.DefaultUnit()}
		f.WriteProtected = writeProtected(ctx, f.Unit, log)
		t.Files = append(t.Files, f)
		return nil
	case KindTarget:
		u, err := iscsiurl.Parse(targetURL(rawURL))
		if err != nil {
			return err
		}
		return t.addTarget(ctx, u, "", cfg, log)
	}
	u, err := iscsiurl.ParsePortal(rawURL)
	if err != nil {
		return err
	}
	found, err := session.DiscoverURL(ctx, u, cfg)
	if err != nil {
		return err
	}
	// A target this initiator cannot log in to (CHAP, an ACL) is left out
	// with a warning: the others are still worth mounting.
	var errs []error
	for _, d := range found {
		tu := *u
		tu.Target, tu.LUN = d.Name, 0
		if err := t.addTarget(ctx, &tu, d.Name, cfg, log); err != nil {
			log.Warn("iscsi-fuse: leaving a target out", "target", d.Name, "err", err)
			errs = append(errs, err)
		}
	}
	if len(t.Files) == 0 && len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

func (t *Tree) dial(ctx context.Context, u *iscsiurl.URL, cfg *session.Config) (*session.Session, error) {
	s, err := session.DialURL(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	t.sessions = append(t.sessions, s)
	return s, nil
}

// addTarget logs in to u's target and adds a file for each disk LUN, in
// directory dir; on error it adds nothing and logs out.
func (t *Tree) addTarget(ctx context.Context, u *iscsiurl.URL, dir string, cfg *session.Config, log *slog.Logger) error {
	if strings.ContainsAny(dir, "/\x00") || dir == "." || dir == ".." {
		return fmt.Errorf("target name %q cannot be a directory name", dir)
	}
	s, err := session.DialURL(ctx, u, cfg)
	if err != nil {
		return err
	}
	files, err := disks(ctx, s, dir, log)
	if err != nil {
		if lerr := s.Logout(ctx); lerr != nil {
			s.Close()
		}
		return err
	}
	t.sessions = append(t.sessions, s)
	t.Files = append(t.Files, files...)
	return nil
}

// disks returns a file for each disk LUN of s's target (REPORT LUNS, then
// INQUIRY of each).
func disks(ctx context.Context, s *session.Session, dir string, log *slog.Logger) ([]File, error) {
	luns, err := s.ReportLUNs(ctx)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, lun := range luns {
		a, err := lun.Decode()
		if err != nil || a.Number > iscsiurl.MaxLUN {
			log.Warn("iscsi-fuse: skipping a LUN that cannot be addressed", "lun", lun, "target", s.Target())
			continue
		}
		unit, err := s.LogicalUnit(uint32(a.Number))
		if err != nil {
			return nil, err
		}
		inq, err := unit.Inquiry(ctx)
		if err != nil {
			return nil, fmt.Errorf("INQUIRY of LUN %d of %s: %w", a.Number, s.Target(), err)
		}
		if inq.Qualifier != scsi.QualifierConnected || inq.DeviceType != scsi.TypeDirectAccess {
			log.Debug("iscsi-fuse: not a disk", "lun", a.Number, "target", s.Target(), "type", inq.DeviceType)
			continue
		}
		files = append(files, File{Dir: dir, Name: fmt.Sprintf("lun%d", a.Number), Unit: unit,
			WriteProtected: writeProtected(ctx, unit, log)})
	}
	return files, nil
}

// writeProtected reads the WP bit of MODE SENSE; a LUN that does not
// answer is taken as writable (a write will say otherwise: EROFS).
func writeProtected(ctx context.Context, u *session.LogicalUnit, log *slog.Logger) bool {
	m, err := u.ModeSense(ctx, scsi.PageCurrent, scsi.ModePageAll, 0)
	if err != nil {
		log.Debug("iscsi-fuse: MODE SENSE failed; taking the LUN as writable", "lun", u.LUN(), "err", err)
		return false
	}
	return m.WriteProtected()
}

// Close logs out of every session of the tree (in parallel, each bounded
// by ctx) and closes them.
func (t *Tree) Close(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range t.sessions {
		wg.Go(func() {
			if err := s.Logout(ctx); err != nil {
				s.Close()
			}
		})
	}
	wg.Wait()
	t.sessions = nil
}
