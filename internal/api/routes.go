package api

import (
	"net/http"

	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
)

func (a *API) routes() {
	m := a.mux
	get := func(p string, h handlerFunc) { m.Handle("GET "+Base+p, a.read(h)) }
	post := func(p string, h handlerFunc) { m.Handle("POST "+Base+p, a.write(h)) }
	put := func(p string, h handlerFunc) { m.Handle("PUT "+Base+p, a.write(h)) }
	del := func(p string, h handlerFunc) { m.Handle("DELETE "+Base+p, a.write(h)) }

	get("/about", func(w http.ResponseWriter, r *http.Request) error {
		return httpwire.WriteJSON(w, 200, model.RegistryAbout{RegistryAboutVersion: Version})
	})
	get("/config", func(w http.ResponseWriter, r *http.Request) error {
		return httpwire.WriteJSON(w, 200, model.RegistryConfiguration{})
	})

	// Buckets.
	get("/buckets", func(w http.ResponseWriter, r *http.Request) error {
		bs, err := a.reg.ListBuckets()
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, bs)
	})
	post("/buckets", func(w http.ResponseWriter, r *http.Request) error {
		var in model.Bucket
		ok, err := a.decode(w, r, &in)
		if err != nil {
			return err
		}
		b, err := a.reg.CreateBucket(r.Context(), callerOf(r), orNil(ok, &in), boolParam(r, "preserveSourceProperties"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, b)
	})
	get("/buckets/fields", func(w http.ResponseWriter, r *http.Request) error {
		return httpwire.WriteJSON(w, 200, model.Fields{Fields: []string{"ID", "NAME", "DESCRIPTION", "CREATED"}})
	})
	get("/buckets/{bucketId}", func(w http.ResponseWriter, r *http.Request) error {
		b, err := a.reg.GetBucket(r.PathValue("bucketId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, b)
	})
	put("/buckets/{bucketId}", func(w http.ResponseWriter, r *http.Request) error {
		var in model.Bucket
		ok, err := a.decode(w, r, &in)
		if err != nil {
			return err
		}
		if !ok {
			return model.Invalid("Bucket cannot be null")
		}
		b, err := a.reg.UpdateBucket(r.Context(), callerOf(r), r.PathValue("bucketId"), &in)
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, b)
	})
	del("/buckets/{bucketId}", func(w http.ResponseWriter, r *http.Request) error {
		rev, err := revisionParams(r)
		if err != nil {
			return err
		}
		b, err := a.reg.DeleteBucket(r.Context(), callerOf(r), r.PathValue("bucketId"), rev)
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, b)
	})

	// Flows of a bucket.
	get("/buckets/{bucketId}/flows", func(w http.ResponseWriter, r *http.Request) error {
		fs, err := a.reg.ListFlows(r.PathValue("bucketId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, fs)
	})
	post("/buckets/{bucketId}/flows", func(w http.ResponseWriter, r *http.Request) error {
		var in model.VersionedFlow
		ok, err := a.decode(w, r, &in)
		if err != nil {
			return err
		}
		f, err := a.reg.CreateFlow(r.Context(), callerOf(r), r.PathValue("bucketId"), orNil(ok, &in), boolParam(r, "preserveSourceProperties"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, f)
	})
	get("/buckets/{bucketId}/flows/{flowId}", func(w http.ResponseWriter, r *http.Request) error {
		f, err := a.reg.GetFlow(r.PathValue("bucketId"), r.PathValue("flowId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, f)
	})
	put("/buckets/{bucketId}/flows/{flowId}", func(w http.ResponseWriter, r *http.Request) error {
		var in model.VersionedFlow
		ok, err := a.decode(w, r, &in)
		if err != nil {
			return err
		}
		f, err := a.reg.UpdateFlow(r.Context(), callerOf(r), r.PathValue("bucketId"), r.PathValue("flowId"), orNil(ok, &in))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, f)
	})
	del("/buckets/{bucketId}/flows/{flowId}", func(w http.ResponseWriter, r *http.Request) error {
		rev, err := revisionParams(r)
		if err != nil {
			return err
		}
		f, err := a.reg.DeleteFlow(r.Context(), callerOf(r), r.PathValue("bucketId"), r.PathValue("flowId"), rev)
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, f)
	})

	// Versions.
	const fv = "/buckets/{bucketId}/flows/{flowId}/versions"
	post(fv, func(w http.ResponseWriter, r *http.Request) error {
		in, err := a.decodeSnapshotBody(w, r)
		if err != nil {
			return err
		}
		s, err := a.reg.CreateVersion(r.Context(), callerOf(r), r.PathValue("bucketId"), r.PathValue("flowId"),
			in, boolParam(r, "preserveSourceProperties"))
		if err != nil {
			return err
		}
		return writeSnapshot(w, 200, s)
	})
	post(fv+"/import", func(w http.ResponseWriter, r *http.Request) error {
		in, err := a.decodeSnapshotBody(w, r)
		if err != nil {
			return err
		}
		s, err := a.reg.ImportVersion(r.Context(), callerOf(r), r.PathValue("bucketId"), r.PathValue("flowId"),
			in, r.Header.Get("Comments"))
		if err != nil {
			return err
		}
		w.Header().Set("Location", absoluteURL(r, Base+"/"+s.SnapshotMetadata.Link.Href))
		return writeSnapshot(w, http.StatusCreated, s)
	})
	get(fv, func(w http.ResponseWriter, r *http.Request) error {
		vs, err := a.reg.ListVersions(r.PathValue("bucketId"), r.PathValue("flowId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, vs)
	})
	get(fv+"/latest", func(w http.ResponseWriter, r *http.Request) error {
		b, release, err := a.reg.VersionJSON(r.PathValue("bucketId"), r.PathValue("flowId"), 0)
		if err != nil {
			return err
		}
		httpwire.WriteBody(w, 200, b)
		release()
		return nil
	})
	get(fv+"/latest/metadata", func(w http.ResponseWriter, r *http.Request) error {
		md, err := a.reg.LatestMetadata(r.PathValue("bucketId"), r.PathValue("flowId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, md)
	})
	get(fv+"/{versionNumber}", func(w http.ResponseWriter, r *http.Request) error {
		n, err := versionParam(r, "versionNumber")
		if err != nil {
			return err
		}
		b, release, err := a.reg.VersionJSON(r.PathValue("bucketId"), r.PathValue("flowId"), n)
		if err != nil {
			return err
		}
		httpwire.WriteBody(w, 200, b)
		release()
		return nil
	})
	get(fv+"/{versionNumber}/export", func(w http.ResponseWriter, r *http.Request) error {
		n, err := versionParam(r, "versionNumber")
		if err != nil {
			return err
		}
		s, filename, err := a.reg.Export(r.PathValue("bucketId"), r.PathValue("flowId"), n)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
		w.Header().Set("Filename", filename)
		return writeSnapshot(w, 200, s)
	})
	get("/buckets/{bucketId}/flows/{flowId}/diff/{versionA}/{versionB}", func(w http.ResponseWriter, r *http.Request) error {
		va, err := versionParam(r, "versionA")
		if err != nil {
			return err
		}
		vb, err := versionParam(r, "versionB")
		if err != nil {
			return err
		}
		d, err := a.reg.Diff(r.PathValue("bucketId"), r.PathValue("flowId"), va, vb)
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, d)
	})

	// Flows by id.
	flowFields := model.Fields{Fields: []string{"ID", "NAME", "DESCRIPTION", "CREATED", "MODIFIED", "ITEM_TYPE", "BUCKET_ID"}}
	get("/flows/fields", func(w http.ResponseWriter, r *http.Request) error { return httpwire.WriteJSON(w, 200, flowFields) })
	get("/flows/{flowId}", func(w http.ResponseWriter, r *http.Request) error {
		f, err := a.reg.GetFlowByID(r.PathValue("flowId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, f)
	})
	get("/flows/{flowId}/versions", func(w http.ResponseWriter, r *http.Request) error {
		vs, err := a.reg.ListVersions("", r.PathValue("flowId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, vs)
	})
	get("/flows/{flowId}/versions/latest", func(w http.ResponseWriter, r *http.Request) error {
		b, release, err := a.reg.VersionJSON("", r.PathValue("flowId"), 0)
		if err != nil {
			return err
		}
		httpwire.WriteBody(w, 200, b)
		release()
		return nil
	})
	get("/flows/{flowId}/versions/latest/metadata", func(w http.ResponseWriter, r *http.Request) error {
		md, err := a.reg.LatestMetadata("", r.PathValue("flowId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, md)
	})
	get("/flows/{flowId}/versions/{versionNumber}", func(w http.ResponseWriter, r *http.Request) error {
		n, err := versionParam(r, "versionNumber")
		if err != nil {
			return err
		}
		b, release, err := a.reg.VersionJSON("", r.PathValue("flowId"), n)
		if err != nil {
			return err
		}
		httpwire.WriteBody(w, 200, b)
		release()
		return nil
	})

	// Items.
	get("/items", func(w http.ResponseWriter, r *http.Request) error {
		items, err := a.reg.Items("")
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, items)
	})
	get("/items/fields", func(w http.ResponseWriter, r *http.Request) error { return httpwire.WriteJSON(w, 200, flowFields) })
	get("/items/{bucketId}", func(w http.ResponseWriter, r *http.Request) error {
		items, err := a.reg.Items(r.PathValue("bucketId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, items)
	})

	a.surfaces()
}

// orNil returns v when the body was present, nil for an empty body.
func orNil[T any](present bool, v *T) *T {
	if !present {
		return nil
	}
	return v
}

// absoluteURL resolves an API path against the request's scheme and host,
// as JAX-RS does for a relative Location.
func absoluteURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host + path
}
