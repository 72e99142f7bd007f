//! The deployment files hold to the server they deploy. No container engine
//! runs here, so what can be checked without one is: the Dockerfile,
//! docker-compose.yml and deploy/ parse; they set only variables ferryd
//! reads; their ports, probe paths and grace periods agree with ferryd's;
//! and the dashboard's and alerts' queries name only metrics a real ferryd
//! exports after some traffic.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_proto::parse_duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use yaml_rust2::{Yaml, YamlLoader};

/// Longest wait for the server in these tests.
const PATIENCE: Duration = Duration::from_secs(60);

/// How long a stopping ferryd waits for its merges to be handed back.
const HAND_BACK: Duration = Duration::from_secs(5);

fn path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every document of a YAML file.
fn yaml(relative: &str) -> Vec<Yaml> {
    let docs = YamlLoader::load_from_str(&read(relative))
        .unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"));
    assert!(!docs.is_empty(), "{relative} is empty");
    docs
}

/// The one document of a YAML file.
fn yaml_one(relative: &str) -> Yaml {
    let mut docs = yaml(relative);
    assert_eq!(docs.len(), 1, "{relative} holds one document");
    docs.remove(0)
}

fn text<'a>(value: &'a Yaml, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value:?}"))
}

fn keys(value: &Yaml) -> Vec<String> {
    value
        .as_hash()
        .map(|hash| {
            hash.keys()
                .filter_map(|key| key.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The port of an address such as `0.0.0.0:8080`.
fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address}"))
}

fn kubernetes(name: &str) -> Yaml {
    yaml_one(&format!("deploy/kubernetes/{name}"))
}

/// The variables ferryd reads, as `ferryd --help` lists them.
fn variables_ferryd_reads() -> BTreeSet<String> {
    let help = Command::new(env!("CARGO_BIN_EXE_ferryd"))
        .env_clear()
        .arg("--help")
        .output()
        .expect("ferryd --help runs");
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).expect("UTF-8 help");
    help.split("[env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The `KEY=value` settings of the Dockerfile's `ENV` instruction.
fn dockerfile_env(dockerfile: &str) -> Vec<(String, String)> {
    let mut settings = Vec::new();
    let mut in_env = false;
    for line in dockerfile.lines() {
        let line = line.trim();
        let rest = match line.strip_prefix("ENV ") {
            Some(rest) => rest,
            None if in_env => line,
            None => continue,
        };
        in_env = rest.ends_with('\\');
        for pair in rest.trim_end_matches('\\').split_whitespace() {
            if let Some((key, value)) = pair.split_once('=') {
                settings.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    settings
}

#[test]
fn every_deployment_file_parses() {
    for file in [
        "docker-compose.yml",
        "deploy/prometheus/prometheus.yml",
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/provisioning/datasources/prometheus.yml",
        "deploy/grafana/provisioning/dashboards/ferry.yml",
    ] {
        yaml(file);
    }
    let kustomization = kubernetes("kustomization.yaml");
    let resources = kustomization["resources"].as_vec().expect("resources");
    assert!(resources.len() >= 5);
    for resource in resources {
        let file = text(resource, "a resource");
        let manifest = kubernetes(file);
        assert!(manifest["kind"].as_str().is_some(), "{file} has no kind");
    }
    assert_eq!(
        kubernetes("secret.example.yaml")["kind"].as_str(),
        Some("Secret")
    );
    let dashboard: Value =
        serde_json::from_str(&read("deploy/grafana/ferry-dashboard.json")).expect("JSON");
    assert!(dashboard["panels"].as_array().is_some_and(|p| p.len() > 5));
}

#[test]
fn deployment_files_set_only_variables_ferryd_reads() {
    let known = variables_ferryd_reads();
    assert!(
        known.contains("FERRY_BIND") && known.contains("DATABASE_URL"),
        "{known:?}"
    );
    let mut set: Vec<(String, String)> = Vec::new();
    let mut add = |file: &str, names: Vec<String>| {
        set.extend(names.into_iter().map(|name| (file.to_owned(), name)));
    };
    add(
        "Dockerfile",
        dockerfile_env(&read("Dockerfile"))
            .into_iter()
            .map(|(key, _)| key)
            .collect(),
    );
    let compose = yaml_one("docker-compose.yml");
    add(
        "docker-compose.yml",
        keys(&compose["services"]["ferry"]["environment"]),
    );
    add(
        "configmap.yaml",
        keys(&kubernetes("configmap.yaml")["data"]),
    );
    add(
        "secret.example.yaml",
        keys(&kubernetes("secret.example.yaml")["stringData"]),
    );
    let deployment = kubernetes("deployment.yaml");
    for container in deployment["spec"]["template"]["spec"]["containers"]
        .as_vec()
        .expect("containers")
    {
        for variable in container["env"].as_vec().into_iter().flatten() {
            add(
                "deployment.yaml",
                vec![text(&variable["name"], "a name").to_owned()],
            );
        }
    }
    let ferry_settings: Vec<&(String, String)> = set
        .iter()
        .filter(|(_, name)| name.starts_with("FERRY_") || name == "DATABASE_URL")
        .collect();
    assert!(ferry_settings.len() > 20, "{set:?}");
    for (file, name) in ferry_settings {
        assert!(
            known.contains(name),
            "{file} sets {name}, which ferryd does not read"
        );
    }
}

#[test]
fn ports_probes_and_grace_periods_agree_with_ferryd() {
    let dockerfile = read("Dockerfile");
    let env = dockerfile_env(&dockerfile);
    let bind = &env
        .iter()
        .find(|(key, _)| key == "FERRY_BIND")
        .expect("FERRY_BIND")
        .1;
    let exposed = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    assert_eq!(exposed.trim().parse::<u16>().unwrap(), port_of(bind));
    let health = dockerfile
        .lines()
        .skip_while(|line| !line.starts_with("HEALTHCHECK"))
        .take(2)
        .collect::<String>();
    assert!(
        health.contains("\"/usr/local/bin/ferryd\", \"probe\"") && health.contains("/readyz"),
        "{health}"
    );

    let compose = yaml_one("docker-compose.yml");
    let ferry = &compose["services"]["ferry"];
    let compose_port = port_of(text(&ferry["environment"]["FERRY_BIND"], "FERRY_BIND"));
    let published = text(&ferry["ports"][0], "a port");
    assert_eq!(port_of(published), compose_port);
    let grace =
        parse_duration(text(&ferry["environment"]["FERRY_SHUTDOWN_GRACE"], "grace")).unwrap();
    let stop = parse_duration(text(&ferry["stop_grace_period"], "stop_grace_period")).unwrap();
    assert!(
        stop >= grace + HAND_BACK,
        "{stop:?} < {grace:?} + {HAND_BACK:?}"
    );
    let compose_admin = port_of(text(
        &ferry["environment"]["FERRY_ADMIN_BIND"],
        "FERRY_ADMIN_BIND",
    ));
    assert_ne!(compose_admin, compose_port);
    assert!(
        ferry["ports"]
            .as_vec()
            .into_iter()
            .flatten()
            .all(|published| port_of(text(published, "a port")) != compose_admin),
        "compose publishes the admin port"
    );
    let prometheus = yaml_one("deploy/prometheus/prometheus.yml");
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
    let target = text(&job["static_configs"][0]["targets"][0], "a target");
    assert_eq!(target, format!("ferry:{compose_admin}"));

    let config = kubernetes("configmap.yaml");
    let port = port_of(text(&config["data"]["FERRY_BIND"], "FERRY_BIND"));
    let admin = port_of(text(
        &config["data"]["FERRY_ADMIN_BIND"],
        "FERRY_ADMIN_BIND",
    ));
    let grace = parse_duration(text(&config["data"]["FERRY_SHUTDOWN_GRACE"], "grace")).unwrap();
    let deployment = kubernetes("deployment.yaml");
    let pod = &deployment["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(
        annotations["prometheus.io/port"].as_str(),
        Some(admin.to_string().as_str())
    );
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["ports"][0]["name"].as_str(), Some("http"));
    assert_eq!(
        container["ports"][0]["containerPort"].as_i64(),
        Some(i64::from(port))
    );
    assert_eq!(container["ports"][1]["name"].as_str(), Some("admin"));
    assert_eq!(
        container["ports"][1]["containerPort"].as_i64(),
        Some(i64::from(admin))
    );
    for (probe, path) in [
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(get["port"].as_str(), Some("admin"), "{probe}");
    }
    let readiness_timeout = container["readinessProbe"]["timeoutSeconds"]
        .as_i64()
        .unwrap();
    assert!(
        Duration::from_secs(readiness_timeout as u64) > ferry::upload::READY_TIMEOUT,
        "the probe gives up before ferryd's own readiness timeout"
    );
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_i64()
        .unwrap_or(0);
    let termination = pod["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .unwrap();
    let needed = Duration::from_secs(pre_stop as u64) + grace + HAND_BACK;
    assert!(
        Duration::from_secs(termination as u64) > needed,
        "terminationGracePeriodSeconds {termination} leaves no margin over {needed:?}"
    );

    let service = kubernetes("service.yaml");
    assert_eq!(&service["spec"]["selector"], labels);
    let exposed: Vec<&str> = service["spec"]["ports"]
        .as_vec()
        .expect("the Service's ports")
        .iter()
        .map(|port| text(&port["targetPort"], "a target port"))
        .collect();
    assert_eq!(
        exposed,
        ["http"],
        "the Service exposes only the traffic port"
    );
    let budget = kubernetes("pdb.yaml");
    assert_eq!(&budget["spec"]["selector"]["matchLabels"], labels);
    let autoscaler = kubernetes("hpa.yaml");
    let name = &deployment["metadata"]["name"];
    assert_eq!(&autoscaler["spec"]["scaleTargetRef"]["name"], name);
    assert_eq!(
        autoscaler["spec"]["scaleTargetRef"]["kind"].as_str(),
        Some("Deployment")
    );
    let replicas = deployment["spec"]["replicas"].as_i64().unwrap();
    let disruptions = budget["spec"]["maxUnavailable"].as_i64().unwrap();
    assert!(replicas > disruptions, "the budget allows every pod to go");
    assert!(autoscaler["spec"]["minReplicas"].as_i64().unwrap() > disruptions);
}

/// A real ferryd on SQLite and a local folder, with tokens and a fast sweep.
struct Server {
    url: String,
    child: Child,
    _folder: tempfile::TempDir,
}

const SECRET: &str = "a secret for the deployment test, 32 bytes or more";

impl Server {
    fn start() -> Server {
        let folder = tempfile::tempdir().expect("a folder");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_ferryd"))
            .env_clear()
            .env("FERRY_BIND", format!("127.0.0.1:{port}"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/ferry.db", folder.path().display()),
            )
            .env("FERRY_STORE", folder.path().join("objects"))
            .env("FERRY_MIN_CHUNK_SIZE", "1KiB")
            .env("FERRY_SWEEP_INTERVAL", "100ms")
            .env("FERRY_JWT_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ferryd starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "ferryd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _folder: folder,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The names of the samples in a scrape.
fn sample_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// The `ferry_…` metric names a PromQL expression names.
fn metrics_named(expression: &str) -> Vec<String> {
    expression
        .match_indices("ferry_")
        .filter(|(at, _)| {
            !expression[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            expression[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Every PromQL expression of the dashboard and the alert rules, by where it is.
fn expressions() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let dashboard: Value =
        serde_json::from_str(&read("deploy/grafana/ferry-dashboard.json")).expect("JSON");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("an expr").to_owned();
            found.push((format!("panel {}", panel["title"]), expr));
        }
    }
    let alerts = yaml_one("deploy/prometheus/alerts.yml");
    for group in alerts["groups"].as_vec().expect("groups") {
        for rule in group["rules"].as_vec().expect("rules") {
            let expr = text(&rule["expr"], "an expr").to_owned();
            found.push((format!("alert {}", text(&rule["alert"], "a name")), expr));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_alerts_name_only_metrics_ferryd_exports() {
    let server = Server::start();
    let token = ferry::access::issue_hs256(
        SECRET.as_bytes(),
        "operator",
        Duration::from_secs(600),
        std::time::SystemTime::now(),
    );
    let client = reqwest::Client::new();
    for probe in ["/healthz", "/readyz", "/metrics"] {
        let answer = client.get(server.url(probe)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{probe}");
    }
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    let created = client
        .post(server.url("/v1/uploads"))
        .bearer_auth(&token)
        .json(&json!({"sha256": sha, "size": data.len(), "chunk_size": 1024}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    for (index, chunk) in data.chunks(1024).enumerate() {
        let sent = client
            .put(server.url(&format!("/v1/uploads/{sha}/chunks/{index}")))
            .bearer_auth(&token)
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::OK);
    }
    let completed = client
        .post(server.url(&format!("/v1/uploads/{sha}/complete")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(completed.status(), StatusCode::OK);
    let ranged = client
        .get(server.url(&format!("/v1/files/{sha}")))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    let refused = client.post(server.url("/v1/uploads")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let started = Instant::now();
    let exported = loop {
        let scrape = client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if scrape.contains("ferry_swept_total{") {
            break sample_names(&scrape);
        }
        assert!(
            started.elapsed() < PATIENCE,
            "no sweep was counted: {scrape}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut named = BTreeSet::new();
    for (place, expression) in expressions() {
        let metrics = metrics_named(&expression);
        assert!(
            !metrics.is_empty() || expression.contains("up{job=\"ferry\"}"),
            "{place} names no ferry metric: {expression}"
        );
        for metric in metrics {
            assert!(
                exported.contains(&metric),
                "{place} names {metric}, which ferryd does not export: {expression}"
            );
            named.insert(metric);
        }
    }
    assert!(
        named.len() >= 15,
        "the dashboard and alerts name only {named:?}"
    );
}
