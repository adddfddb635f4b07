package flowdiff

import (
	"math"
	"strings"
	"testing"
)

// The expected strings in this file were printed by OpenJDK 25 (same
// Double.toString and HashMap as the Java 21 NiFi 2 runs on).

func TestJavaDouble(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{math.Float64bits(100), "100.0"},
		{math.Float64bits(0.1), "0.1"},
		{math.Float64bits(1e7), "1.0E7"},
		{math.Float64bits(9999999), "9999999.0"},
		{math.Float64bits(1e-3), "0.001"},
		{math.Float64bits(9.99e-4), "9.99E-4"},
		{math.Float64bits(1e-4), "1.0E-4"},
		{math.Float64bits(123456789), "1.23456789E8"},
		{math.Float64bits(math.Copysign(0, -1)), "-0.0"},
		{0, "0.0"},
		{math.Float64bits(12.345), "12.345"},
		{math.Float64bits(1e21), "1.0E21"},
		{1, "4.9E-324"}, // Double.MIN_VALUE: Java's two-digit rule
		{math.Float64bits(2e23), "2.0E23"},
		{math.Float64bits(1234567.125), "1234567.125"},
		{math.Float64bits(-241.99999), "-241.99999"},
		{math.Float64bits(3e10), "3.0E10"},
		{math.Float64bits(math.MaxFloat64), "1.7976931348623157E308"},
		{4599075939470750516, "0.30000000000000004"}, // 0.1 + 0.2 at run time
		{math.Float64bits(8.41e21), "8.41E21"},
		{math.Float64bits(1e23), "1.0E23"},
		{math.Float64bits(5e-5), "5.0E-5"},
		{math.Float64bits(4.35), "4.35"},
		{math.Float64bits(2e-3), "0.002"},
		{math.Float64bits(math.NaN()), "NaN"},
		{math.Float64bits(math.Inf(-1)), "-Infinity"},
	}
	for _, tt := range tests {
		f := math.Float64frombits(tt.bits)
		if got := javaDouble(f); got != tt.want {
			t.Errorf("javaDouble(%v) = %q, want %q", f, got, tt.want)
		}
	}
}

func TestJavaHashSetOrder(t *testing.T) {
	tests := []struct {
		in   []string // "<null>" stands for a null element
		want string
	}{
		// "success" and "failure" share a bucket: insertion order decides.
		{[]string{"success", "failure"}, "[success, failure]"},
		{[]string{"failure", "success"}, "[failure, success]"},
		{[]string{"b", "a"}, "[a, b]"},
		{[]string{"Aa", "BB"}, "[Aa, BB]"}, // equal hash codes
		{[]string{"BB", "Aa"}, "[BB, Aa]"},
		{[]string{"b", "a", "b"}, "[a, b]"},
		// 14 elements: the table grows from 16 to 32 buckets.
		{
			[]string{"original", "failure", "retry", "success", "matched", "unmatched", "response", "no retry",
				"invalid", "split", "merged", "not found", "timeout", "comms.failure"},
			"[original, comms.failure, merged, unmatched, timeout, no retry, split, failure, success, response, invalid, matched, not found, retry]",
		},
		{[]string{"z", "<null>", "a"}, "[null, a, z]"},
		{[]string{"héllo", "日本", "😀x"}, "[😀x, héllo, 日本]"},
	}
	for _, tt := range tests {
		var in []optString
		for _, s := range tt.in {
			if s == "<null>" {
				in = append(in, optString{})
			} else {
				in = append(in, str(s))
			}
		}
		if got := javaString(javaHashSet(in)); got != tt.want {
			t.Errorf("HashSet%v = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestJavaStringHash(t *testing.T) {
	for s, want := range map[string]int32{"😀x": 54959989, "héllo": 103094734, "success": -1867169789, "": 0} {
		if got := javaStringHash(s); got != want {
			t.Errorf("hash(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestJavaStringOfModelTypes(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{int64(-5), "-5"},
		{true, "true"},
		{&position{X: optDouble{true, 100}, Y: optDouble{true, -2.5}}, "[x=100.0, y=-2.5]"},
		{&bundle{Group: str("g"), Artifact: str("a")}, "Bundle[group='g', artifact='a', version='null']"},
		{&connectable{ID: str("1"), Type: str("FUNNEL"), Name: str("n")},
			"ConnectableComponent{id='1', instanceId='null', type=FUNNEL, groupId='null', name='n'}"},
		{&coordinates{BucketID: str("b"), FlowID: str("f"), Version: str("3")},
			"VersionedFlowCoordinates[branch=null, bucketId=b, flowId=f, version=3, storageLocation=null]"},
		// BatchSize has no toString: Object.toString with its hashCode.
		{&batchSize{Count: optInt32{optInt{true, 5}}, Size: str("1 MB"), Duration: str("1 sec")}, "org.apache.nifi.flow.BatchSize@55ad8366"},
		{&batchSize{}, "org.apache.nifi.flow.BatchSize@745f"},
		{&batchSize{Count: optInt32{optInt{true, -7}}, Size: str("ü😀")}, "org.apache.nifi.flow.BatchSize@1f1977"},
		{javaList{str("a"), {}}, "[a, null]"},
		{positionList{nil, {}}, "[null, [x=0.0, y=0.0]]"},
		{javaMap{{"b", str("2")}, {"a", optString{}}}, "{b=2, a=null}"},
	}
	for _, tt := range tests {
		if got := javaString(tt.v); got != tt.want {
			t.Errorf("javaString(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestJavaEquals(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{nil, nil, true},
		{"a", nil, false},
		{int64(1), "1", false},
		{0.0, math.Copysign(0, -1), false}, // Double.equals
		{javaSet{str("a"), str("b")}, javaSet{str("b"), str("a")}, true},
		{javaList{str("a"), str("b")}, javaList{str("b"), str("a")}, false},
		{javaMap{{"a", str("1")}, {"b", str("2")}}, javaMap{{"b", str("2")}, {"a", str("1")}}, true},
		{javaMap{{"a", str("1")}}, javaMap{{"a", optString{}}}, false},
		// ConnectableComponent.equals only looks at the id.
		{&connectable{ID: str("x"), Name: str("a")}, &connectable{ID: str("x"), Name: str("b")}, true},
		// Coordinates ignore registryId-like fields but not the branch.
		{&coordinates{Branch: str("main")}, &coordinates{Branch: str("dev")}, false},
		{(*position)(nil).jv(), nil, true},
	}
	for _, tt := range tests {
		if got := javaEquals(tt.a, tt.b); got != tt.want {
			t.Errorf("javaEquals(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestIsParameterReference(t *testing.T) {
	for s, want := range map[string]bool{
		"#{p}":          true,
		"#{a-b_c. d}":   true,
		"#{}":           false,
		"#{p} ":         false,
		"x #{p}":        false,
		"#{a}#{b}":      false,
		"#{bad!}":       false,
		"#{p":           false,
		"#{Über}":       false,
		"#{0123456789}": true,
	} {
		if got := isParameterReference(s); got != want {
			t.Errorf("isParameterReference(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDiffTypeTableComplete(t *testing.T) {
	for i := range numDiffTypes {
		e := diffTypes[i]
		if e.name == "" || e.description == "" || strings.ToUpper(e.name) != e.name {
			t.Errorf("diff type %d: incomplete entry %+v", i, e)
		}
	}
}
