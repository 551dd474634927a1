//! The release and operations facts the templates repeat, tied to their sources: the stacks'
//! `Version` output is the workspace version, every function logs JSON, the dashboard plots every
//! metric of `core/src/metrics.rs` (and no other) and every alarm, and the architecture the
//! template deploys is the one `make package` builds by default.

use std::collections::BTreeSet;

use breakglass_core::metrics::{Metric, NAMESPACE};
use proofs::root;
use serde_json::Value;
use serde_norway::Value as Yaml;

fn yaml(file: &str) -> Yaml {
    serde_norway::from_str(&std::fs::read_to_string(root().join(file)).unwrap()).unwrap()
}

/// The resources of `doc` of CloudFormation type `kind`, by logical id.
fn of_type<'a>(doc: &'a Yaml, kind: &str) -> Vec<(String, &'a Yaml)> {
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap().to_owned(), r))
        .collect()
}

#[test]
fn every_stack_outputs_the_workspace_version() {
    for file in ["template.yaml", "organisation/member.yaml"] {
        let doc = yaml(file);
        let output = &doc["Outputs"]["Version"];
        assert_eq!(output["Value"].as_str(), Some(breakglass_core::VERSION), "{file}");
        assert!(output.get("Condition").is_none(), "{file}: the version is always an output");
    }
}

#[test]
fn every_function_logs_json() {
    let doc = yaml("template.yaml");
    let functions = of_type(&doc, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 5);
    for (name, f) in functions {
        assert_eq!(f["Properties"]["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"), "{name}");
    }
    // The member stack has no functions: nothing there to log.
    assert!(of_type(&yaml("organisation/member.yaml"), "AWS::Serverless::Function").is_empty());
}

/// The dashboard's body as CloudFormation gets it (the `!Sub` text: its `${…}` sit inside strings,
/// so it is JSON as it stands).
fn dashboard(doc: &Yaml) -> Value {
    let (_, d) = of_type(doc, "AWS::CloudWatch::Dashboard").pop().unwrap();
    let Yaml::Tagged(sub) = &d["Properties"]["DashboardBody"] else { panic!("DashboardBody is a !Sub") };
    serde_json::from_str(sub.value.as_str().unwrap()).unwrap()
}

#[test]
fn the_dashboard_plots_every_metric_and_every_alarm() {
    let doc = yaml("template.yaml");
    let body = dashboard(&doc);
    let widgets = body["widgets"].as_array().unwrap();
    let mut plotted = BTreeSet::new();
    let mut alarms = BTreeSet::new();
    for w in widgets {
        for line in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let line = line.as_array().unwrap();
            match line[0].as_str() {
                Some(namespace) => {
                    assert_eq!(namespace, NAMESPACE, "{line:?}");
                    plotted.insert(line[1].as_str().unwrap().to_owned());
                }
                None => {
                    // A SEARCH expression: its namespace and metric name.
                    let e = line[0]["expression"].as_str().unwrap();
                    assert!(e.contains(&format!("{{{NAMESPACE},")), "{e}");
                    let name = e.split("MetricName=\"").nth(1).unwrap().split('"').next().unwrap();
                    plotted.insert(name.to_owned());
                }
            }
        }
        for a in w["properties"]["alarms"].as_array().into_iter().flatten() {
            alarms.insert(a.as_str().unwrap().to_owned());
        }
    }
    let metrics: BTreeSet<String> = Metric::ALL.iter().map(|m| m.name().to_owned()).collect();
    assert_eq!(plotted, metrics);
    let every_alarm: BTreeSet<String> = of_type(&doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(name, _)| format!("${{{name}.Arn}}"))
        .collect();
    assert_eq!(alarms, every_alarm);
}

#[test]
fn the_template_deploys_the_architecture_make_package_builds() {
    let doc = yaml("template.yaml");
    let archs = doc["Globals"]["Function"]["Architectures"].as_sequence().unwrap();
    assert_eq!(archs.iter().map(|a| a.as_str().unwrap()).collect::<Vec<_>>(), ["x86_64"]);
    let package = std::fs::read_to_string(root().join("scripts/package.sh")).unwrap();
    assert!(package.contains("arch=${ARCH:-x86_64}"), "scripts/package.sh builds x86_64 by default");
}
