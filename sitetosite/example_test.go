package sitetosite_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/weir-nifi/weir/sitetosite"
)

// A sender with a primary cluster in two zones and a standby cluster: it
// keeps working while nodes, a zone or the whole primary are down, and
// while every URL given for a cluster is unreachable (from the cache).
func ExampleRemote_Send() {
	r, err := sitetosite.New(sitetosite.Config{
		Clusters: [][]string{
			{"https://weir-a1:8443/nifi", "https://weir-b1:8443/nifi"}, // primary
			{"https://weir-dr1:8443/nifi"},                             // standby
		},
		Port:     "ingest",
		CacheDir: "/var/lib/myapp/s2s-peers",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	files := []sitetosite.FlowFile{{Attributes: map[string]string{"filename": "a.json"}, Content: []byte(`{"a":1}`)}}
	d, err := r.Send(ctx, files)
	if err != nil {
		log.Fatal(err) // nothing was confirmed; sending again is safe (same weir.s2s.id)
	}
	fmt.Println("stored by", d.Peer, "of cluster", d.Cluster+1, "id", files[0].Attributes[sitetosite.IDAttribute])
}

// A receiver that writes each batch durably before confirming it: a
// flowfile leaves the remote queue only once it is safe here.
func ExampleRemote_Receive() {
	r, err := sitetosite.New(sitetosite.Config{Clusters: [][]string{{"http://weir-1:18080"}}, Port: "egress"})
	if err != nil {
		log.Fatal(err)
	}
	n, _, err := r.Receive(context.Background(), func(ffs []sitetosite.FlowFile) error {
		for _, f := range ffs {
			_ = f // write f.Content and f.Attributes, fsync; an error cancels the transaction
		}
		return nil
	})
	fmt.Println(n, err)
}
