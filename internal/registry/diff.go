package registry

import (
	"encoding/json"

	"github.com/weir-nifi/weir/internal/flowdiff"
	"github.com/weir-nifi/weir/internal/flowdoc"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Diff compares two versions of a flow; the lower number is always the
// older one. Unknown buckets, flows and versions are 404s (NiFi answers a
// 409 "No serialized content found" for a missing version; the 404 is what
// its API documents).
func (s *Service) Diff(bucketID, flowID string, a, b int32) (*model.FlowDifference, error) {
	older, newer := min(a, b), max(a, b)
	var docA, docB flowdoc.Doc
	err := s.read(func(tx *store.Tx) error {
		_, f, err := lookupFlow(tx, bucketID, flowID)
		if err != nil {
			return err
		}
		if _, docA, err = loadVersion(tx, f, older); err != nil {
			return err
		}
		_, docB, err = loadVersion(tx, f, newer)
		return err
	})
	if err != nil {
		return nil, err
	}
	groups, err := flowdiff.Compare(docA[flowdoc.FlowContents], docB[flowdoc.FlowContents])
	if err != nil {
		// Flow contents are stored as sent; NiFi would have refused, at
		// commit, a document whose components do not have its schema's
		// types. Such versions cannot be compared: the client's data, not
		// a failure of the server.
		return nil, model.Conflict("The versions cannot be compared: their flow contents do not follow NiFi's flow schema (" + err.Error() + ")")
	}
	out := &model.FlowDifference{BucketID: bucketID, FlowID: flowID, VersionA: older, VersionB: newer,
		ComponentDifferenceGroups: make([]json.RawMessage, 0, len(groups))}
	for _, g := range groups {
		raw, err := model.Marshal(g)
		if err != nil {
			return nil, err
		}
		out.ComponentDifferenceGroups = append(out.ComponentDifferenceGroups, raw)
	}
	return out, nil
}
