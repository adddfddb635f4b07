package apidoc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	"github.com/weir-nifi/weir/internal/api"
)

// nifiDocFile is NiFi Registry 2.7.2's description, the source of NiFi's part.
const nifiDocFile = "testdata/nifi-registry-openapi-2.7.2.json"

// s2sDocFile holds the site-to-site part of NiFi 2.7.2's own description
// (nifi-openapi-2.7.2.json: its /site-to-site and /data-transfer paths and
// the schemas they refer to, copied unchanged), which Weir serves under
// /nifi-api.
const s2sDocFile = "testdata/nifi-openapi-2.7.2-site-to-site.json"

// s2sBase is where NiFi's own API, and so site-to-site, is served.
const s2sBase = "/nifi-api"

// document builds the description: NiFi's document relative to the API
// base, the response descriptions NiFi's generator leaves out (OpenAPI
// requires one) filled in, and Weir's operations added.
func document() (*openapi3.T, error) {
	nifiDoc, err := os.ReadFile(nifiDocFile)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(nifiDoc)
	if err != nil {
		return nil, fmt.Errorf("NiFi's description: %w", err)
	}
	doc.Info.Title = "Weir: the NiFi Registry REST API and Weir's operations"
	doc.Info.Description = "NiFi Registry " + doc.Info.Version + "'s REST API as Weir serves it (NiFi's own description, under " +
		api.Base + "), and Weir's operations: health, maintenance, backups and metrics under " + api.Base +
		"/actuator, cluster membership, site-to-site ports, audit and disaster recovery under /weir-api; " +
		"NiFi's site-to-site surface (NiFi 2.7.2's description) under " + s2sBase + ". " +
		"Errors are NiFi's: a text/plain message with the status."
	doc.Servers = openapi3.Servers{{URL: api.Base}}
	if err := addSiteToSite(doc); err != nil {
		return nil, err
	}
	for _, item := range doc.Paths.Map() {
		for _, o := range item.Operations() {
			for code, ref := range o.Responses.Map() {
				if ref.Value != nil && ref.Value.Description == nil {
					ref.Value.Description = openapi3.Ptr(statusText(code))
				}
			}
		}
	}
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = openapi3.SecuritySchemes{}
	}
	doc.Components.SecuritySchemes["clusterKey"] = &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
		Type: "http", Scheme: "bearer",
		Description: "The admin token (`weir admin-token`), or a request signed with the cluster key (the weir CLI signs)",
	}}
	gen := openapi3gen.NewGenerator(openapi3gen.SchemaCustomizer(customize))
	for _, o := range weirOps {
		if err := addOp(doc, gen, o); err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.method, o.path, err)
		}
	}
	return doc, nil
}

// addSiteToSite adds NiFi's site-to-site operations, served under
// s2sBase, with the schemas they use.
func addSiteToSite(doc *openapi3.T) error {
	b, err := os.ReadFile(s2sDocFile)
	if err != nil {
		return err
	}
	s2s, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return fmt.Errorf("NiFi's site-to-site description: %w", err)
	}
	for name, ref := range s2s.Components.Schemas {
		if doc.Components.Schemas[name] != nil {
			return fmt.Errorf("schema %s is in both NiFi descriptions", name)
		}
		doc.Components.Schemas[name] = ref
	}
	for key, item := range s2s.Paths.Map() {
		if doc.Paths.Value(key) != nil {
			return fmt.Errorf("path %s is in both NiFi descriptions", key)
		}
		item.Servers = openapi3.Servers{{URL: s2sBase}}
		// NiFi names the policy an operation needs as a security
		// requirement of a scheme it never defines ("Read - /site-to-site"),
		// which is not valid OpenAPI: the description says it instead.
		for _, o := range item.Operations() {
			if o.Security != nil {
				var policies []string
				for _, req := range *o.Security {
					for name := range req {
						policies = append(policies, name)
					}
				}
				slices.Sort(policies)
				o.Description = strings.TrimSpace(o.Description + " NiFi's policy: " + strings.Join(policies, ", ") + ".")
				o.Security = nil
			}
		}
		doc.Paths.Set(key, item)
	}
	return nil
}

func statusText(code string) string {
	n, err := strconv.Atoi(code)
	if err != nil || http.StatusText(n) == "" {
		return "The answer"
	}
	return http.StatusText(n)
}

// customize fixes what reflection cannot see: raw JSON is any JSON, an
// "any" holds any value, and a struct's members without omitempty are
// always sent (required) while no others are (no additional properties),
// so that an answer that drifts from its Go type fails validation.
func customize(_ string, t reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
	switch {
	case t == reflect.TypeFor[json.RawMessage]() || t.Kind() == reflect.Interface:
		*s = openapi3.Schema{}
	case t.Kind() == reflect.Struct && s.Type.Is(openapi3.TypeObject):
		s.Required = requiredMembers(t, nil)
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	}
	return nil
}

// requiredMembers lists the JSON names of t's members encoding/json
// always writes, embedded structs' included.
func requiredMembers(t reflect.Type, out []string) []string {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() && !f.Anonymous || name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = requiredMembers(f.Type, out)
			continue
		}
		if name == "" {
			name = f.Name
		}
		if !slices.Contains(strings.Split(opts, ","), "omitempty") && !slices.Contains(strings.Split(opts, ","), "omitzero") {
			out = append(out, name)
		}
	}
	return out
}

var pathParam = strings.NewReplacer("{", "", "}", "")

func addOp(doc *openapi3.T, gen *openapi3gen.Generator, o op) error {
	key, servers := o.path, openapi3.Servers(nil)
	if rel, ok := strings.CutPrefix(o.path, api.Base); ok {
		key = rel
	} else {
		// Outside the API base: the path is absolute.
		servers = openapi3.Servers{{URL: "/"}}
	}
	item := doc.Paths.Value(key)
	if item == nil {
		item = &openapi3.PathItem{Servers: servers}
		doc.Paths.Set(key, item)
	}
	if item.GetOperation(o.method) != nil {
		return fmt.Errorf("described twice")
	}
	op := &openapi3.Operation{
		Summary:     o.summary,
		OperationID: operationID(o),
		Tags:        []string{WeirTag},
		Responses:   openapi3.NewResponses(),
	}
	for _, seg := range strings.Split(o.path, "/") {
		if strings.HasPrefix(seg, "{") {
			op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewPathParameter(pathParam.Replace(seg)).WithSchema(openapi3.NewStringSchema())})
		}
	}
	for _, q := range o.query {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewQueryParameter(q).WithSchema(openapi3.NewStringSchema())})
	}
	if o.in != nil {
		s, err := gen.NewSchemaRefForValue(o.in, nil)
		if err != nil {
			return err
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithJSONSchemaRef(s)}
	}
	resp := openapi3.NewResponse().WithDescription(http.StatusText(o.status))
	switch {
	case o.out != nil:
		s, err := gen.NewSchemaRefForValue(o.out, nil)
		if err != nil {
			return err
		}
		resp.WithJSONSchemaRef(s)
	case o.outType != "":
		resp.WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema(), []string{o.outType}))
	}
	op.Responses.Set(strconv.Itoa(o.status), &openapi3.ResponseRef{Value: resp})
	for _, code := range o.alsoStatus {
		again := *resp
		again.Description = openapi3.Ptr(http.StatusText(code))
		op.Responses.Set(strconv.Itoa(code), &openapi3.ResponseRef{Value: &again})
	}
	op.Responses.Set("default", &openapi3.ResponseRef{Value: openapi3.NewResponse().
		WithDescription("An error: NiFi's text/plain message with the status").
		WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema(), []string{"text/plain"}))})
	if o.key {
		op.Security = &openapi3.SecurityRequirements{{"clusterKey": []string{}}}
	}
	item.SetOperation(o.method, op)
	return nil
}

// operationID is "weir" + method + the path's words: weirGetClusterStatus.
func operationID(o op) string {
	var b strings.Builder
	b.WriteString("weir")
	b.WriteString(strings.ToUpper(o.method[:1]) + strings.ToLower(o.method[1:]))
	path := strings.TrimPrefix(strings.TrimPrefix(o.path, api.Base), "/weir-api")
	for _, w := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '-' || r == '{' || r == '}' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// paths lists the described operations as "METHOD /absolute/path".
func paths(doc *openapi3.T) []string {
	var out []string
	for key, item := range doc.Paths.Map() {
		abs := api.Base + key
		if len(item.Servers) > 0 {
			abs = strings.TrimSuffix(item.Servers[0].URL, "/") + key
		}
		for m := range item.Operations() {
			out = append(out, m+" "+abs)
		}
	}
	slices.Sort(out)
	return out
}
