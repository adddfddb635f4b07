package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/dr"
	"github.com/weir-nifi/weir/internal/s2s/relay"
)

// Failover isolates every node of the primary cluster while the canary
// writes (registry commits through any node of either cluster,
// site-to-site pushes with the primary, then the standby, as clusters),
// promotes the standby, and measures RTO (until writes started after the
// fault are acknowledged by the promoted standby) and RPO (acknowledged
// canary data the standby never received: replication is asynchronous,
// so this is the data at risk when a whole cluster is lost). With
// restore it then brings the primary back (the promoted cluster fences
// it), demotes it to follow, promotes it again once caught up and makes
// the other cluster its standby again.
func Failover(ctx context.Context, primary, standby []string, restore bool, o Options) (Report, error) {
	o.defaults()
	primary, standby = splitClean(primary), splitClean(standby)
	rep := Report{Scenario: "failover", Isolated: primary}
	r := &run{o: o, rep: &rep}
	if len(primary) == 0 || len(standby) == 0 {
		return rep, errors.New("give the URLs of the primary's nodes and of the standby's")
	}
	ps, err := r.drStatus(ctx, primary)
	if err != nil || ps.Role != "primary" {
		return rep, fmt.Errorf("the primary (%s) is not a primary: %+v %v", primary[0], ps.Role, err)
	}
	ss, err := r.drStatus(ctx, standby)
	if err != nil || ss.Role != "standby" {
		return rep, fmt.Errorf("the standby (%s) is not a standby: %+v %v", standby[0], ss.Role, err)
	}
	pBefore, err := r.status(ctx, primary)
	if err != nil {
		return rep, err
	}
	rep.LeaderBefore = pBefore.LeaderID

	r.step("set up the canary on the primary and wait for the standby to have it")
	if err := r.setup(ctx, primary); err != nil {
		return rep, fmt.Errorf("set up the canary: %w", err)
	}
	// Cleaned up on whichever cluster is the primary at the end.
	cleanupOn := primary
	defer func() {
		if err := r.cleanup(context.WithoutCancel(ctx), cleanupOn); err != nil {
			o.Progress("cleanup: " + err.Error())
		}
	}()
	if err := r.waitFor(ctx, "the standby to receive the canary's port", func() error {
		return anyNode(standby, func(u string) error {
			return r.admin(ctx, u, http.MethodGet, relay.AdminPath+"/"+r.in, nil, nil)
		})
	}); err != nil {
		return rep, err
	}
	both := append(append([]string{}, primary...), standby...)
	if err := r.startCanaries(both, [][]string{primary, standby}); err != nil {
		return rep, err
	}
	defer r.stopCanaries()
	if err := r.warmUp(); err != nil {
		return rep, err
	}

	r.fault = time.Now()
	r.step("isolate every node of the primary")
	isoErr := r.isolate(ctx, primary)
	rejoined := false
	defer func() {
		if !rejoined && restore {
			_ = r.rejoin(context.WithoutCancel(ctx), primary)
		}
	}()
	if isoErr != nil {
		return rep, fmt.Errorf("isolate: %w", isoErr)
	}
	r.step("promote the standby")
	t0 := time.Now()
	if err := r.waitFor(ctx, "the standby to accept promotion", func() error {
		return anyNode(standby, func(u string) error {
			return r.admin(ctx, u, http.MethodPost, dr.PromotePath, dr.PromoteRequest{}, nil)
		})
	}); err != nil {
		return rep, err
	}
	rep.PromoteMs = ms(time.Since(t0))
	cleanupOn = standby
	r.step(fmt.Sprintf("standby promoted in %.0f ms", rep.PromoteMs))
	recErr := r.awaitRecovery()
	if recErr == nil {
		r.step(fmt.Sprintf("canary recovered on the promoted standby: registry %.0f ms, site-to-site %.0f ms", rep.Registry.RTOMs, rep.S2S.RTOMs))
		if st, err := r.status(ctx, standby); err == nil {
			rep.LeaderAfter = st.LeaderID
		}
		time.Sleep(o.Hold)
	}
	r.stopCanaries()
	if err := r.verify(ctx, standby, [][]string{standby}); err != nil {
		return rep, errors.Join(recErr, err)
	}
	r.step(fmt.Sprintf("verified on the promoted standby: %d of %d commits and %d of %d pushes acknowledged are there",
		rep.Registry.Acknowledged-rep.Registry.Missing, rep.Registry.Acknowledged, rep.S2S.Acknowledged-rep.S2S.Missing, rep.S2S.Acknowledged))
	if !restore {
		return rep, recErr
	}

	// Back to the original layout.
	r.step("bring the old primary back")
	t0 = time.Now()
	rejoined = true
	if err := r.rejoin(ctx, primary); err != nil {
		return rep, errors.Join(recErr, err)
	}
	if err := r.switchBack(ctx, primary, standby); err != nil {
		return rep, errors.Join(recErr, err)
	}
	cleanupOn = primary
	rep.Restored = true
	rep.RestoreMs = ms(time.Since(t0))
	r.step("original layout back: the primary leads again and the standby follows it")
	return rep, recErr
}

// switchBack turns the fenced old primary into the primary again: it is
// demoted to follow the promoted cluster, catches up, is promoted, and
// the other cluster, fenced in turn, is demoted to follow it.
func (r *run) switchBack(ctx context.Context, primary, standby []string) error {
	if err := r.waitRole(ctx, primary, "fenced"); err != nil {
		return err
	}
	r.step("the old primary is fenced; demote it to follow the promoted cluster")
	if err := anyNode(primary, func(u string) error {
		return r.admin(ctx, u, http.MethodPost, dr.DemotePath, dr.DemoteRequest{Primary: standby}, nil)
	}); err != nil {
		return fmt.Errorf("demote the old primary: %w", err)
	}
	if err := r.waitCaughtUp(ctx, primary, standby); err != nil {
		return err
	}
	r.step("caught up; promote it again")
	if err := anyNode(primary, func(u string) error {
		return r.admin(ctx, u, http.MethodPost, dr.PromotePath, dr.PromoteRequest{Force: true}, nil)
	}); err != nil {
		return fmt.Errorf("promote the old primary: %w", err)
	}
	if err := r.waitRole(ctx, standby, "fenced"); err != nil {
		return err
	}
	r.step("the other cluster is fenced; demote it to follow the primary again")
	if err := anyNode(standby, func(u string) error {
		return r.admin(ctx, u, http.MethodPost, dr.DemotePath, dr.DemoteRequest{Primary: primary}, nil)
	}); err != nil {
		return fmt.Errorf("demote the standby: %w", err)
	}
	return r.waitCaughtUp(ctx, standby, primary)
}

// drStatus is GET /weir-api/dr from any of urls.
func (r *run) drStatus(ctx context.Context, urls []string) (dr.Status, error) {
	return anyNodeGet[dr.Status](ctx, r, urls, dr.Path)
}

// drStatuses asks every node at urls for its DR status; the first node
// that does not answer fails it.
func (r *run) drStatuses(ctx context.Context, urls []string) ([]dr.Status, error) {
	out := make([]dr.Status, len(urls))
	for i, u := range urls {
		if err := r.admin(ctx, u, http.MethodGet, dr.Path, nil, &out[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
	}
	return out, nil
}

// waitRole waits until every node at urls reports role.
func (r *run) waitRole(ctx context.Context, urls []string, role string) error {
	return r.waitFor(ctx, "role "+role+" on "+strings.Join(urls, ","), func() error {
		sts, err := r.drStatuses(ctx, urls)
		if err != nil {
			return err
		}
		for i, st := range sts {
			if st.Role != role {
				return fmt.Errorf("%s: role %s", urls[i], st.Role)
			}
		}
		return nil
	})
}

// waitCaughtUp waits until every node at urls is a standby and their
// leader stands at the primary's applied index as it is now.
func (r *run) waitCaughtUp(ctx context.Context, urls, primary []string) error {
	var target uint64
	if err := r.waitFor(ctx, "the primary's applied index", func() error {
		st, err := r.status(ctx, primary)
		if err != nil {
			return err
		}
		for _, m := range st.Members {
			if m.Leader {
				var local cluster.LocalStatus
				if err := r.admin(ctx, m.APIURL, http.MethodGet, cluster.AdminBase+"/local", nil, &local); err != nil {
					return err
				}
				target = local.AppliedIndex
				return nil
			}
		}
		return errors.New("no leader")
	}); err != nil {
		return err
	}
	return r.waitFor(ctx, fmt.Sprintf("the standby %s to reach the primary's index %d", strings.Join(urls, ","), target), func() error {
		sts, err := r.drStatuses(ctx, urls)
		if err != nil {
			return err
		}
		seen := false
		for i, st := range sts {
			if st.Role != "standby" {
				return fmt.Errorf("%s: role %s", urls[i], st.Role)
			}
			if st.Lag != nil {
				if st.Lag.Index < target {
					return fmt.Errorf("at %d", st.Lag.Index)
				}
				seen = true
			}
		}
		if !seen {
			return errors.New("no leader reports its lag")
		}
		return nil
	})
}

// waitFor retries fn until it succeeds or Timeout passes.
func (r *run) waitFor(ctx context.Context, what string, fn func() error) error {
	deadline := time.Now().Add(r.o.Timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
