package registry

import (
	"encoding/json"
	"errors"

	"github.com/weir-nifi/weir/internal/flowdiff"
	"github.com/weir-nifi/weir/internal/flowdoc"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Diff compares two versions of a flow; the lower number is always the
// older one. Unknown buckets, flows and versions get NiFi's answer, a 409
// "No serialized content found …", although its API documents a 404:
// clients are written against what NiFi does.
func (s *Service) Diff(bucketID, flowID string, a, b int32) (*model.FlowDifference, error) {
	older, newer := min(a, b), max(a, b)
	var docA, docB flowdoc.Doc
	err := s.read(func(tx *store.Tx) error {
		// NiFi looks nothing up before it reads the two versions' content
		// (RegistryService.getFlowDiff): an unknown bucket, flow or version,
		// or a flow of another bucket, is "no content" for the older
		// version first, then the newer (IllegalStateException, 409).
		noContent := func(n int32) error {
			return model.Errorf(model.KindConflict, "No serialized content found for snapshot with flow identifier %s and version %d", flowID, n)
		}
		_, f, err := lookupFlow(tx, bucketID, flowID)
		var me *model.Error
		if errors.As(err, &me) && (me.Kind == model.KindNotFound || me.Kind == model.KindConflict) {
			return noContent(older)
		} else if err != nil {
			return err
		}
		load := func(n int32) (flowdoc.Doc, error) {
			_, d, err := loadVersion(tx, f, n)
			if errors.As(err, &me) && me.Kind == model.KindNotFound {
				return d, noContent(n)
			}
			return d, err
		}
		if docA, err = load(older); err != nil {
			return err
		}
		docB, err = load(newer)
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
