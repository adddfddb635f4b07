package packaging

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/weir-nifi/weir/internal/harness"
)

// The Kubernetes manifests decode strictly into the Kubernetes API types
// (an unknown or misplaced field fails), hold what their comments promise
// (3 replicas spread over zones, a disruption budget, a headless Service
// published before readiness, non-root), set only WEIR_* variables that
// are flags of weir server, reference only variables defined before, and
// probe paths a real node answers with 200.
func TestKubernetesManifests(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "packaging", "kubernetes", "weir.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sts *appsv1.StatefulSet
	var pdb *policyv1.PodDisruptionBudget
	services := map[string]*corev1.Service{}
	for i, doc := range strings.Split(string(src), "\n---\n") {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		var obj any
		switch meta.APIVersion + " " + meta.Kind {
		case "v1 Service":
			obj = &corev1.Service{}
		case "policy/v1 PodDisruptionBudget":
			pdb = &policyv1.PodDisruptionBudget{}
			obj = pdb
		case "apps/v1 StatefulSet":
			sts = &appsv1.StatefulSet{}
			obj = sts
		default:
			t.Fatalf("document %d: unexpected %s %s", i+1, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("document %d (%s): %v", i+1, meta.Kind, err)
		}
		if s, ok := obj.(*corev1.Service); ok {
			services[s.Name] = s
		}
	}
	if sts == nil || pdb == nil || services["weir"] == nil || services[sts.Spec.ServiceName] == nil {
		t.Fatalf("missing objects: statefulset %v, pdb %v, services %v", sts != nil, pdb != nil, len(services))
	}
	peers := services[sts.Spec.ServiceName]
	if peers.Spec.ClusterIP != corev1.ClusterIPNone || !peers.Spec.PublishNotReadyAddresses {
		t.Errorf("the peers Service must be headless and publish pods before they are ready")
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", sts.Spec.Replicas)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("the disruption budget must allow one pod down at most")
	}
	pod := sts.Spec.Template.Spec
	zones := false
	for _, c := range pod.TopologySpreadConstraints {
		zones = zones || c.TopologyKey == "topology.kubernetes.io/zone" && c.WhenUnsatisfiable == corev1.DoNotSchedule
	}
	if !zones {
		t.Errorf("pods are not spread over zones")
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("pods may run as root")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	var names []string
	defined := map[string]bool{}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	for _, e := range c.Env {
		for _, m := range ref.FindAllStringSubmatch(e.Value, -1) {
			if !defined[m[1]] {
				t.Errorf("%s refers to $(%s), not defined before it", e.Name, m[1])
			}
		}
		defined[e.Name] = true
		if strings.HasPrefix(e.Name, "WEIR_") {
			names = append(names, e.Name)
		}
	}
	checkEnvNames(t, "the StatefulSet", names, serverFlags(t))

	// The probes' paths, on a real node.
	n := harness.StartNode(t, harness.Options{IP: "127.0.0.1"})
	if err := n.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
			continue
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, err := get(n.API + p.HTTPGet.Path)
			if err == nil && status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s probe %s: %d %v", name, p.HTTPGet.Path, status, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !bytes.Contains(src, []byte("secretName: weir-cluster-key")) {
		t.Errorf("the cluster key does not come from the secret the comment names")
	}
}

func get(url string) (int, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s", resp.Status)
	}
	return resp.StatusCode, nil
}
