package relay

import (
	"context"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/store"
)

// expireBatch is how many flowfiles one ExpireFlows removes: a bound on
// the work (and the bbolt transaction) of one log entry.
const expireBatch = 10_000

// RunRetention expires flowfiles past their port's retention age until ctx
// ends. Every node runs it; only the leader proposes, and only when its
// replica shows something to expire, so a cluster without retention sends
// nothing through the log. The time in each ExpireFlows is the leader's
// clock, fixed before the command is replicated.
func (r *Relay) RunRetention(ctx context.Context) {
	t := time.NewTicker(r.opt.ExpireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !r.c.IsLeader() {
			continue
		}
		if err := r.expireOnce(ctx); err != nil && ctx.Err() == nil {
			r.opt.Log.Warn("site-to-site retention: cannot expire flowfiles", "err", err)
		}
	}
}

// expireOnce proposes ExpireFlows for each input port whose queue head is
// past its retention age, until none is (or ctx ends).
func (r *Relay) expireOnce(ctx context.Context) error {
	var primary bool
	if err := r.st.Read(func(tx *store.Tx) error {
		d, err := tx.DR()
		primary = d.IsPrimary()
		return err
	}); err != nil || !primary {
		return err // a DR standby applies its primary's expiries
	}
	ps, err := r.ports()
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Kind != command.PortInput || p.MaxAge <= 0 {
			continue
		}
		for ctx.Err() == nil {
			now := r.now()
			var due bool
			if err := r.st.Read(func(tx *store.Tx) (err error) {
				due, err = queue.Expirable(tx.Bolt(), p, now)
				return err
			}); err != nil {
				return err
			}
			if !due {
				break
			}
			var res queue.ExpireResult
			if err := r.c.ProposeAnywhere(ctx, &command.ExpireFlows{Port: p.ID, Max: expireBatch, At: now}, &res); err != nil {
				return err
			}
			if res.Expired == 0 {
				break
			}
			r.opt.Log.Info("site-to-site retention: expired flowfiles", "port", p.Name, "count", res.Expired, "maxAge", time.Duration(p.MaxAge)*time.Millisecond)
		}
	}
	return nil
}
