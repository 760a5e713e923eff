package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/engagedhq/engaged/config"
)

const root = ".." // the repository, from this package's directory

// secret stands in for the ENGAGED_PIXEL_SECRET that the compose file
// requires from the environment.
const secret = "0123456789abcdef0123456789abcdef"

// loadCompose loads a compose file the way `docker compose` does:
// interpolation, JSON-schema validation against the compose specification,
// then the loader's consistency checks (depends_on targets exist, …).
// profile is the compose profile to activate ("single" or "cluster"), as
// `docker compose --profile <profile>` does.
func loadCompose(t *testing.T, path, profile string, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(env),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		cli.WithProfiles([]string{profile}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// profiles are docker-compose.yml's two ways to run; every service belongs
// to exactly one.
var profiles = []string{"single", "cluster"}

// compose loads docker-compose.yml with profile active.
func compose(t *testing.T, profile string) *types.Project {
	t.Helper()
	p, err := loadCompose(t, filepath.Join(root, "docker-compose.yml"), profile, "ENGAGED_PIXEL_SECRET="+secret)
	if err != nil {
		t.Fatalf("docker-compose.yml, profile %s: %v", profile, err)
	}
	return p
}

// goMod returns the go directive and the required version of module.
func goMod(t *testing.T, module string) (goVersion, modVersion string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == "go" {
			goVersion = f[1]
		}
		if len(f) >= 2 && f[0] == module {
			modVersion = strings.TrimPrefix(f[1], "v")
		}
	}
	if goVersion == "" || modVersion == "" {
		t.Fatalf("go.mod: go %q, %s %q", goVersion, module, modVersion)
	}
	return goVersion, modVersion
}

func env(s types.ServiceConfig, k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}

// byPrefix returns the names of the services whose name starts with prefix.
func byPrefix(p *types.Project, prefix string) []string {
	var out []string
	for name := range p.Services {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func TestComposeIsValid(t *testing.T) {
	for _, profile := range profiles {
		p := compose(t, profile)
		for name, svc := range p.Services {
			if !slices.Equal(svc.Profiles, []string{profile}) {
				t.Errorf("%s: profiles %v, want exactly [%s]", name, svc.Profiles, profile)
			}
		}
	}
}

// The two profiles share no volume and no service, so switching from one to
// the other never points an engaged at a database whose snapshots belong to
// another log.
func TestComposeProfilesAreApart(t *testing.T) {
	single, cluster := compose(t, "single"), compose(t, "cluster")
	for name := range single.Services {
		if _, ok := cluster.Services[name]; ok {
			t.Errorf("service %s is in both profiles", name)
		}
	}
	volumes := func(p *types.Project) map[string]bool {
		m := map[string]bool{}
		for _, s := range p.Services {
			for _, v := range s.Volumes {
				if v.Type == types.VolumeTypeVolume {
					m[v.Source] = true
				}
			}
		}
		return m
	}
	cv := volumes(cluster)
	for v := range volumes(single) {
		if cv[v] {
			t.Errorf("volume %s is used by both profiles", v)
		}
	}
}

// The single profile: one NATS with JetStream, one Postgres, one engaged
// that uses both, and nothing else.
func TestComposeDescribesASingleNode(t *testing.T) {
	p := compose(t, "single")
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"engaged", "nats", "postgres-single"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	for _, n := range []string{"nats", "postgres-single"} {
		if hc := p.Services[n].HealthCheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no healthcheck", n)
		}
	}
	if !slices.ContainsFunc(p.Services["nats"].Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == "/etc/nats/nats.conf" && filepath.Base(v.Source) == "single.conf"
	}) {
		t.Error("nats does not mount deploy/nats/single.conf")
	}
	s := p.Services["engaged"]
	cfg := serviceConfig(t, s)
	if cfg.NATSURL != "nats://nats:4222" {
		t.Errorf("engaged: ENGAGED_NATS_URL %q, want the nats service alone", cfg.NATSURL)
	}
	if cfg.StreamReplicas != 1 {
		t.Errorf("engaged: ENGAGED_STREAM_REPLICAS = %d, want 1 on one node", cfg.StreamReplicas)
	}
	if !strings.Contains(cfg.DatabaseURL, "@postgres-single:5432/") {
		t.Errorf("engaged: ENGAGED_DATABASE_URL %q is not the postgres-single service", cfg.DatabaseURL)
	}
	if cfg.PixelSecret != secret {
		t.Error("engaged: ENGAGED_PIXEL_SECRET is not the exported one")
	}
	var deps []string
	for dep, d := range s.DependsOn {
		deps = append(deps, dep)
		if d.Condition != types.ServiceConditionHealthy {
			t.Errorf("engaged: depends_on %s is %+v, want condition service_healthy", dep, d)
		}
	}
	slices.Sort(deps)
	if want := []string{"nats", "postgres-single"}; !slices.Equal(deps, want) {
		t.Errorf("engaged depends on %v, want %v", deps, want)
	}
}

// serviceConfig loads a service's environment as engaged's configuration.
func serviceConfig(t *testing.T, s types.ServiceConfig) config.Config {
	t.Helper()
	vars := map[string]string{}
	for k := range s.Environment {
		vars[k] = env(s, k)
	}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, nil)
	if err != nil {
		t.Fatalf("%s: its environment is no valid engaged configuration: %v", s.Name, err)
	}
	return cfg
}

// The validation above can fail: each of these breaks the real file once.
func TestComposeValidationRejects(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, old, new string }{
		{"unknown service key", "  postgres:\n    <<: *postgres\n", "  postgres:\n    <<: *postgres\n    replicas_count: 2\n"},
		{"unknown depends_on condition", "postgres: {condition: service_healthy}", "postgres: {condition: service_happy}"},
		{"ports of the wrong type", `ports: ["8081:8080"]`, `ports: {web: 8081}`},
		{"depends on a missing service", "nats-3: {condition: service_healthy}", "nats-4: {condition: service_healthy}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(orig), tc.old) {
				t.Fatalf("docker-compose.yml no longer contains %q", tc.old)
			}
			path := filepath.Join(t.TempDir(), "docker-compose.yml")
			if err := os.WriteFile(path, []byte(strings.Replace(string(orig), tc.old, tc.new, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := loadCompose(t, path, "cluster", "ENGAGED_PIXEL_SECRET="+secret); err == nil {
				t.Fatal("invalid compose file accepted")
			} else {
				t.Log(err)
			}
		})
	}
	for _, profile := range profiles {
		t.Run("no pixel secret/"+profile, func(t *testing.T) {
			if _, err := loadCompose(t, filepath.Join(root, "docker-compose.yml"), profile); err == nil || !strings.Contains(err.Error(), "ENGAGED_PIXEL_SECRET") {
				t.Fatalf("err = %v, want the missing ENGAGED_PIXEL_SECRET named", err)
			}
		})
	}
}

// The cluster the compose file describes: three JetStream nodes, Postgres,
// and at least two engaged instances that use all of them alike.
func TestComposeDescribesACluster(t *testing.T) {
	p := compose(t, "cluster")
	natsNodes := byPrefix(p, "nats-")
	if len(natsNodes) != 3 {
		t.Fatalf("nats services %v, want 3", natsNodes)
	}
	for _, n := range natsNodes {
		s := p.Services[n]
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("%s has no healthcheck", n)
		}
		if env(s, "NATS_SERVER_NAME") != n {
			t.Errorf("%s: NATS_SERVER_NAME = %q", n, env(s, "NATS_SERVER_NAME"))
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Target == "/etc/nats/nats.conf" && filepath.Base(v.Source) == "nats.conf"
		}) {
			t.Errorf("%s does not mount deploy/nats/nats.conf", n)
		}
	}
	pg, ok := p.Services["postgres"]
	if !ok || pg.HealthCheck == nil || len(pg.HealthCheck.Test) == 0 {
		t.Fatal("no postgres service with a healthcheck")
	}

	instances := byPrefix(p, "engaged-")
	if len(instances) < 2 {
		t.Fatalf("engaged services %v, want two or more", instances)
	}
	wantURL := make([]string, len(natsNodes))
	for i, n := range natsNodes {
		wantURL[i] = "nats://" + n + ":4222"
	}
	for _, name := range instances {
		s := p.Services[name]
		cfg := serviceConfig(t, s)
		if got := strings.Split(cfg.NATSURL, ","); !slices.Equal(got, wantURL) {
			t.Errorf("%s: ENGAGED_NATS_URL lists %v, want %v", name, got, wantURL)
		}
		if cfg.StreamReplicas != 3 {
			t.Errorf("%s: ENGAGED_STREAM_REPLICAS = %d, want 3", name, cfg.StreamReplicas)
		}
		if cfg.PixelSecret != secret {
			t.Errorf("%s: ENGAGED_PIXEL_SECRET is not the shared one", name)
		}
		if !strings.Contains(cfg.DatabaseURL, "@postgres:5432/") {
			t.Errorf("%s: ENGAGED_DATABASE_URL %q is not the postgres service", name, cfg.DatabaseURL)
		}
		if cfg.Partitions != config.Defaults().Partitions && cfg.Partitions < len(instances) {
			t.Errorf("%s: %d partitions for %d instances leave some idle", name, cfg.Partitions, len(instances))
		}
		for _, dep := range append(slices.Clone(natsNodes), "postgres") {
			if d, ok := s.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: depends_on %s is %+v, want condition service_healthy", name, dep, d)
			}
		}
		if s.Build == nil && s.Image == "" {
			t.Errorf("%s has neither build nor image", name)
		}
	}
	// Instances that disagree on these would split the stream or the keys.
	first := p.Services[instances[0]]
	for _, name := range instances[1:] {
		for _, k := range []string{"ENGAGED_NATS_URL", "ENGAGED_PARTITIONS", "ENGAGED_STREAM_REPLICAS", "ENGAGED_PIXEL_SECRET", "ENGAGED_DATABASE_URL"} {
			if env(p.Services[name], k) != env(first, k) {
				t.Errorf("%s and %s differ in %s", instances[0], name, k)
			}
		}
	}
}

// The nats image runs the nats-server version that go.mod requires, and
// the build stage the Go of the go directive.
func TestImageVersionsMatchGoMod(t *testing.T) {
	goVersion, natsVersion := goMod(t, "github.com/nats-io/nats-server/v2")
	var images []string
	for _, profile := range profiles {
		for _, n := range byPrefix(compose(t, profile), "nats") {
			images = append(images, n+"="+compose(t, profile).Services[n].Image)
		}
	}
	if len(images) != 4 {
		t.Fatalf("nats services %v, want 4 (one single, three cluster)", images)
	}
	for _, ni := range images {
		n, image, _ := strings.Cut(ni, "=")
		repo, tag, _ := strings.Cut(image, ":")
		tag, _, _ = strings.Cut(tag, "-") // 2.15.2-alpine
		if repo != "nats" || tag != natsVersion {
			t.Errorf("%s: image %s, want nats:%s (nats-server in go.mod)", n, image, natsVersion)
		}
	}

	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^FROM golang:([0-9][0-9.]*)\S* AS build`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("Dockerfile: no `FROM golang:<version> AS build` stage")
	}
	if !goCovers(m[1], goVersion) {
		t.Errorf("Dockerfile builds with golang:%s, go.mod needs go %s", m[1], goVersion)
	}
}

// goCovers reports whether the golang image tag (1.26 = the newest 1.26.x,
// or 1.26.8 exactly) provides go version want (1.26.8), without a newer
// minor that could change the toolchain under the code.
func goCovers(tag, want string) bool {
	t, w := strings.Split(tag, "."), strings.Split(want, ".")
	if len(t) < 2 || len(w) < 2 || t[0] != w[0] || t[1] != w[1] {
		return false
	}
	if len(t) == 2 || len(w) == 2 {
		return true
	}
	tp, err1 := strconv.Atoi(t[2])
	wp, err2 := strconv.Atoi(w[2])
	return err1 == nil && err2 == nil && tp >= wp
}

func TestGoCovers(t *testing.T) {
	for _, c := range []struct {
		tag, want string
		ok        bool
	}{
		{"1.26", "1.26.8", true}, {"1.26.8", "1.26.8", true}, {"1.26.9", "1.26.8", true},
		{"1.26.7", "1.26.8", false}, {"1.25", "1.26.8", false}, {"1.27", "1.26.8", false},
	} {
		if goCovers(c.tag, c.want) != c.ok {
			t.Errorf("goCovers(%s, %s) != %v", c.tag, c.want, c.ok)
		}
	}
}

// The Dockerfile's final stage is what docs/OPERATING.md promises: non-root, the
// HTTP port, a HEALTHCHECK by the binary itself, a static build.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := regexp.MustCompile(`(?m)^FROM `).Split(string(b), -1)
	final := stages[len(stages)-1]
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^USER [1-9][0-9]*`), // a numeric non-root uid: Kubernetes' runAsNonRoot can check it
		regexp.MustCompile(`(?m)^EXPOSE 8080\b`),
		regexp.MustCompile(`(?m)^HEALTHCHECK .*\n?.*CMD \["engaged", "healthcheck"\]`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["engaged"\]`),
	} {
		if !want.MatchString(final) {
			t.Errorf("Dockerfile final stage lacks %s", want)
		}
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0") {
		t.Error("Dockerfile does not build with CGO_ENABLED=0 (a static binary)")
	}
	// The image is the server alone: the load tool is built and run from a
	// clone (make bench), never shipped.
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, "engaged-bench") {
			t.Errorf("Dockerfile:%d names engaged-bench; the image holds the server only", i+1)
		}
	}
	for _, want := range []string{"ARG VERSION", "ARG REVISION", "-X main.stampVersion=${VERSION}", "-X main.stampRevision=${REVISION}"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Dockerfile lacks %q: engaged version would not name the commit", want)
		}
	}
	if got := regexp.MustCompile(`(?m)^EXPOSE 8080\b`).MatchString(final); got && config.Defaults().HTTPAddr != ":8080" {
		t.Errorf("EXPOSE 8080 but the default HTTP address is %s", config.Defaults().HTTPAddr)
	}
}

// deploy/nats/nats.conf parses as nats-server reads it, for every node the
// compose file names, and states what SCALING.md relies on.
func TestNATSConfig(t *testing.T) {
	p := compose(t, "cluster")
	nodes := byPrefix(p, "nats-")
	for _, n := range nodes {
		t.Setenv("NATS_SERVER_NAME", n)
		o, err := server.ProcessConfigFile(filepath.Join("nats", "nats.conf"))
		if err != nil {
			t.Fatalf("nats.conf: %v", err)
		}
		if o.ServerName != n || !o.JetStream || o.StoreDir != "/data" || o.Cluster.Name == "" {
			t.Fatalf("%s: server %q jetstream %v store %q cluster %q", n, o.ServerName, o.JetStream, o.StoreDir, o.Cluster.Name)
		}
		if o.SyncInterval <= 0 && !o.SyncAlways {
			t.Errorf("%s: no JetStream sync_interval stated", n)
		}
		var routes []string
		for _, r := range o.Routes {
			routes = append(routes, r.Hostname())
		}
		slices.Sort(routes)
		if !slices.Equal(routes, nodes) {
			t.Errorf("%s: routes to %v, want %v", n, routes, nodes)
		}
		if o.MaxPayload < int32(config.Defaults().MaxBodyBytes) {
			t.Errorf("%s: max_payload %d is below ENGAGED_MAX_BODY_BYTES %d", n, o.MaxPayload, config.Defaults().MaxBodyBytes)
		}
	}

	// The single profile's node: JetStream on its own, no routes.
	o, err := server.ProcessConfigFile(filepath.Join("nats", "single.conf"))
	if err != nil {
		t.Fatalf("single.conf: %v", err)
	}
	if !o.JetStream || o.StoreDir != "/data" || len(o.Routes) != 0 || o.Cluster.Name != "" {
		t.Errorf("single.conf: jetstream %v store %q routes %v cluster %q", o.JetStream, o.StoreDir, o.Routes, o.Cluster.Name)
	}
	if o.SyncInterval <= 0 && !o.SyncAlways {
		t.Error("single.conf: no JetStream sync_interval stated")
	}
	if o.MaxPayload < int32(config.Defaults().MaxBodyBytes) {
		t.Errorf("single.conf: max_payload %d is below ENGAGED_MAX_BODY_BYTES %d", o.MaxPayload, config.Defaults().MaxBodyBytes)
	}
}
