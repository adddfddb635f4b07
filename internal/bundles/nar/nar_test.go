package nar_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/weir-nifi/weir/internal/bundles/nar"
	"github.com/weir-nifi/weir/internal/bundles/nar/nartest"
)

func extract(b []byte) (*nar.Details, error) { return nar.Extract(bytes.NewReader(b), int64(len(b))) }

func TestExtract(t *testing.T) {
	spec := nartest.Spec{Group: "org.apache.nifi", Artifact: "nifi-example-nar", Version: "2.7.2",
		Dep: [3]string{"org.apache.nifi", "nifi-standard-services-api-nar", "2.7.2"}, SystemAPI: "2.7.2",
		Extensions: []nartest.Extension{
			{Name: "org.example.GetThing", Type: "PROCESSOR", Description: "Gets things", Tags: []string{"get", "thing"}, Restricted: "reads"},
			{Name: "org.example.ThingService", Type: "CONTROLLER_SERVICE", Tags: []string{"thing"},
				Provides: []string{"org.example.ThingAPI:org.example:thing-api-nar:1.0"}},
		},
		AdditionalDetails: map[string]string{"org.example.GetThing": "# Get thing\n"},
		Payload:           []byte("jar bytes")}
	d, err := extract(nartest.Build(spec))
	if err != nil {
		t.Fatal(err)
	}
	if want := (nar.Coordinate{"org.apache.nifi", "nifi-example-nar", "2.7.2"}); d.Coordinate != want {
		t.Errorf("coordinate %+v, want %+v", d.Coordinate, want)
	}
	if want := []nar.Coordinate{{"org.apache.nifi", "nifi-standard-services-api-nar", "2.7.2"}}; !reflect.DeepEqual(d.Dependencies, want) {
		t.Errorf("dependencies %+v", d.Dependencies)
	}
	wantBuild := nar.BuildInfo{BuildBranch: "main", BuildFlags: "N/A", BuildRevision: "1a2b3c4", BuildTag: "nifi-2.7.2-RC1",
		BuildTool: "21.0.2", Built: 1763633730000, BuiltBy: "nifi-builder"}
	if d.Build != wantBuild {
		t.Errorf("build %+v, want %+v", d.Build, wantBuild)
	}
	if d.SystemAPIVersion != "2.7.2" || len(d.Extensions) != 2 {
		t.Fatalf("system API %q, %d extensions", d.SystemAPIVersion, len(d.Extensions))
	}
	e := d.Extensions[0]
	if e.Name != "org.example.GetThing" || e.Type != "PROCESSOR" || e.Description != "Gets things" ||
		!reflect.DeepEqual(e.Tags, []string{"get", "thing"}) || e.Restricted == nil ||
		e.Restricted.GeneralRestrictionExplanation != "reads" || len(e.Restricted.Restrictions) != 1 ||
		e.Restricted.Restrictions[0].RequiredPermission != "read filesystem" {
		t.Errorf("first extension %+v", e)
	}
	want := []nar.ProvidedServiceAPI{{ClassName: "org.example.ThingAPI", GroupID: "org.example", ArtifactID: "thing-api-nar", Version: "1.0"}}
	if !reflect.DeepEqual(d.Extensions[1].ProvidedAPIs, want) {
		t.Errorf("provided APIs %+v", d.Extensions[1].ProvidedAPIs)
	}
	if d.AdditionalDetails["org.example.GetThing"] != "# Get thing\n" {
		t.Errorf("additional details %v", d.AdditionalDetails)
	}
}

func zipOf(entries map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, body := range entries {
		w, _ := zw.Create(n)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

func TestExtractRefuses(t *testing.T) {
	good := nartest.Spec{Group: "g", Artifact: "a", Version: "1"}
	man := nartest.Manifest(good)
	for _, tc := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"not a zip", []byte("hello"), "NAR bundles must contain a valid MANIFEST"},
		{"no manifest", zipOf(map[string]string{"a.txt": "x"}), "NAR bundles must contain a valid MANIFEST"},
		{"no coordinate", zipOf(map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nBuild-Timestamp: 2025-11-20T10:15:30Z\r\n"}),
			"Unable to obtain bundle coordinate: the MANIFEST must carry Nar-Group, Nar-Id and Nar-Version"},
		{"bad timestamp", zipOf(map[string]string{"META-INF/MANIFEST.MF": "Nar-Group: g\nNar-Id: a\nNar-Version: 1\nBuild-Timestamp: yesterday\n"}),
			"Unable to parse Build-Timestamp"},
		{"bad xml", zipOf(map[string]string{"META-INF/MANIFEST.MF": man, "META-INF/docs/extension-manifest.xml": "<extensionManifest><extensions>"}),
			"Unable to obtain extension info for bundle due to: XML syntax error on line 1: unexpected EOF"},
		{"bad type", zipOf(map[string]string{"META-INF/MANIFEST.MF": man, "META-INF/docs/extension-manifest.xml": "<extensionManifest><extensions><extension><name>x</name><type>GADGET</type></extension></extensions></extensionManifest>"}),
			"Unable to obtain extension info for bundle due to: extension x has an unknown type 'GADGET'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extract(tc.in)
			var be *nar.Error
			if !errors.As(err, &be) || be.Msg != tc.msg {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestExtractWithoutExtensionManifest(t *testing.T) {
	d, err := extract(nartest.Build(nartest.Spec{Group: "g", Artifact: "a", Version: "1", NoExtensionManifest: true}))
	if err != nil {
		t.Fatal(err)
	}
	if d.SystemAPIVersion != nar.NA || len(d.Extensions) != 0 || d.Dependencies != nil {
		t.Fatalf("%+v", d)
	}
}

func TestParseManifest(t *testing.T) {
	got, err := nar.ParseManifest([]byte("Manifest-Version: 1.0\r\nNar-Id: a-very-long-artifact-name-that-the-jar-tool-wra\r\n ps-at-72-bytes\r\nNAR-GROUP: g\r\n\r\nName: other\r\nNar-Id: ignored\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"manifest-version": "1.0", "nar-id": "a-very-long-artifact-name-that-the-jar-tool-wraps-at-72-bytes", "nar-group": "g"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	if _, err := nar.ParseManifest([]byte(" starts with a continuation\n")); err == nil {
		t.Fatal("a leading continuation line was accepted")
	}
}

// FuzzExtract: any bytes give details or a *nar.Error, never a panic, and
// details always carry a full coordinate.
func FuzzExtract(f *testing.F) {
	f.Add(nartest.Build(nartest.Spec{Group: "g", Artifact: "a", Version: "1", SystemAPI: "2.0",
		Extensions: []nartest.Extension{{Name: "P", Type: "PROCESSOR", Tags: []string{"t"}}}}))
	f.Add(zipOf(map[string]string{"META-INF/MANIFEST.MF": "Nar-Group: g\n"}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := extract(b)
		if err != nil {
			var be *nar.Error
			if !errors.As(err, &be) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if d.Coordinate.Group == "" || d.Coordinate.Artifact == "" || d.Coordinate.Version == "" {
			t.Fatalf("details without a coordinate: %+v", d)
		}
	})
}
