package drill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weir-nifi/weir/internal/cluster"
)

// ZoneLoss isolates every node of zone in the cluster at urls while the
// canary writes through the other nodes, measures how long until writes
// started after the fault are acknowledged again (RTO) and whether any
// acknowledged write is missing afterwards on any node (RPO, which must
// be 0), then brings the zone back and waits for the original layout.
// A zone whose loss would leave no quorum is refused: the drill would
// only stop writes.
func ZoneLoss(ctx context.Context, urls []string, zone string, o Options) (Report, error) {
	o.defaults()
	urls = splitClean(urls)
	rep := Report{Scenario: "zone-loss", Zone: zone, Isolated: []string{}}
	r := &run{o: o, rep: &rep}
	// Every member must be there and known (a node that has just started
	// may not have published its API URL yet): one fault at a time.
	var before cluster.Status
	err := r.waitFor(ctx, "every member reachable with its API URL", func() error {
		var err error
		if before, err = r.status(ctx, urls); err != nil {
			return err
		}
		for _, m := range before.Members {
			if m.APIURL == "" {
				return fmt.Errorf("member %s advertises no API URL", m.ID)
			}
			if !m.Reachable {
				return fmt.Errorf("member %s is unreachable", m.ID)
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.LeaderBefore = before.LeaderID
	known := false
	for _, z := range before.Zones {
		if z.Zone == zone {
			known = true
			if !z.SurvivesLoss {
				return rep, fmt.Errorf("zone %s holds %d of %d voters: without it the cluster has no quorum, so the drill would only stop writes", zone, z.Voters, before.Voters)
			}
		}
	}
	if !known {
		return rep, fmt.Errorf("no member is in zone %q", zone)
	}
	var down, up []string
	for _, m := range before.Members {
		if m.Zone == zone {
			down = append(down, m.APIURL)
			rep.Isolated = append(rep.Isolated, m.ID)
		} else {
			up = append(up, m.APIURL)
		}
	}
	all := append(append([]string{}, down...), up...)

	r.step("set up the canary (bucket, flow, input and output port)")
	if err := r.setup(ctx, up); err != nil {
		return rep, fmt.Errorf("set up the canary: %w", err)
	}
	defer func() {
		if err := r.cleanup(context.WithoutCancel(ctx), up); err != nil {
			o.Progress("cleanup: " + err.Error())
		}
	}()
	// The canary knows every node, as a client configured with the
	// whole cluster does; the zone's nodes come first so that it is
	// using one of them when they go.
	if err := r.startCanaries(all, [][]string{all}); err != nil {
		return rep, err
	}
	defer r.stopCanaries()
	if err := r.warmUp(); err != nil {
		return rep, err
	}

	r.fault = time.Now()
	r.step(fmt.Sprintf("isolate zone %s (%v)", zone, rep.Isolated))
	isoErr := r.isolate(ctx, down)
	// Whatever happens next, the zone comes back.
	defer func() { _ = r.rejoin(context.WithoutCancel(ctx), down) }()
	if isoErr != nil {
		return rep, fmt.Errorf("isolate: %w", isoErr)
	}
	recErr := r.awaitRecovery()
	if recErr == nil {
		r.step(fmt.Sprintf("canary recovered: registry %.0f ms, site-to-site %.0f ms", rep.Registry.RTOMs, rep.S2S.RTOMs))
		if st, err := r.status(ctx, up); err == nil {
			rep.LeaderAfter = st.LeaderID
		}
		time.Sleep(o.Hold)
	}

	r.step("bring the zone back")
	t0 := time.Now()
	if err := r.rejoin(ctx, down); err != nil {
		return rep, errors.Join(recErr, fmt.Errorf("rejoin: %w", err))
	}
	if _, err := r.waitLayout(ctx, urls, before); err != nil {
		return rep, errors.Join(recErr, err)
	}
	rep.Restored = true
	rep.RestoreMs = ms(time.Since(t0))
	r.step("original layout back")
	r.stopCanaries()
	if err := r.verify(ctx, all, [][]string{all}); err != nil {
		return rep, errors.Join(recErr, err)
	}
	r.step(fmt.Sprintf("verified on every node: %d of %d commits and %d of %d pushes acknowledged are there",
		rep.Registry.Acknowledged-rep.Registry.Missing, rep.Registry.Acknowledged, rep.S2S.Acknowledged-rep.S2S.Missing, rep.S2S.Acknowledged))
	return rep, recErr
}
