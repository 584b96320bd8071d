//! A FIS request read once into its typed form ([`Request`]): the operation from the method
//! and path (rest-json's `requestUri` [S9]), the id from the path, list parameters from the
//! query string, and the JSON body read by serde into structs whose field names are the
//! model's members (held to the model by a test). Required members are `Option`s here, so
//! that a missing one is a `ValidationException` naming it, in the model's order; the body
//! is then checked by the domain's rules (`model::fis`). Anything malformed is a
//! `ValidationException`: a hostile request never gets a 5xx (spec §7.1).

use super::FisError;
use crate::protocol::query::Params;
use base64::Engine;
use model::fis::{
    self, Action, ExperimentOptions, StopCondition, Target, TargetFilter, TemplateSpec,
};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A list operation's page: how many at most, and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub max_results: u32,
    pub after: Option<i64>,
}

/// Every FIS call imds serves, its input checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    CreateTemplate(CreateTemplate),
    GetTemplate(String),
    ListTemplates(Page),
    DeleteTemplate(String),
    UpdateTemplate(UpdateTemplate),
    StartExperiment(StartExperiment),
    GetExperiment(String),
    ListExperiments {
        page: Page,
        template_id: Option<String>,
    },
    StopExperiment(String),
    GetAction(String),
    ListActions(Page),
}

impl Request {
    /// The operation's name in the model, which is also its IAM action's (`fis:<name>`).
    pub fn operation(&self) -> &'static str {
        match self {
            Request::CreateTemplate(_) => "CreateExperimentTemplate",
            Request::GetTemplate(_) => "GetExperimentTemplate",
            Request::ListTemplates(_) => "ListExperimentTemplates",
            Request::DeleteTemplate(_) => "DeleteExperimentTemplate",
            Request::UpdateTemplate(_) => "UpdateExperimentTemplate",
            Request::StartExperiment(_) => "StartExperiment",
            Request::GetExperiment(_) => "GetExperiment",
            Request::ListExperiments { .. } => "ListExperiments",
            Request::StopExperiment(_) => "StopExperiment",
            Request::GetAction(_) => "GetAction",
            Request::ListActions(_) => "ListActions",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateTemplate {
    /// Absent: the operation makes one (SDKs fill a UUID [S9]).
    pub client_token: Option<String>,
    pub spec: TemplateSpec,
}

/// UpdateExperimentTemplate's members: each given one replaces the template's (a `targets`
/// or `actions` map replaces the whole map: UNCONFIRMED whether FIS merges them by name).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateTemplate {
    pub id: String,
    pub description: Option<String>,
    pub stop_conditions: Option<Vec<StopCondition>>,
    pub targets: Option<BTreeMap<String, Target>>,
    pub actions: Option<BTreeMap<String, Action>>,
    pub role_arn: Option<String>,
    pub log_configuration: Option<Value>,
    pub empty_target_resolution_mode: Option<String>,
    pub experiment_report_configuration: Option<Value>,
}

impl UpdateTemplate {
    /// `spec` with the update applied (not yet checked).
    pub fn apply(&self, spec: &TemplateSpec) -> TemplateSpec {
        fn pick<T: Clone>(new: &Option<T>, old: &mut T) {
            if let Some(n) = new {
                *old = n.clone();
            }
        }
        let mut s = spec.clone();
        pick(&self.description, &mut s.description);
        pick(&self.stop_conditions, &mut s.stop_conditions);
        pick(&self.targets, &mut s.targets);
        pick(&self.actions, &mut s.actions);
        pick(&self.role_arn, &mut s.role_arn);
        if self.log_configuration.is_some() {
            s.log_configuration = self.log_configuration.clone();
        }
        if self.experiment_report_configuration.is_some() {
            s.experiment_report_configuration = self.experiment_report_configuration.clone();
        }
        if self.empty_target_resolution_mode.is_some() {
            s.experiment_options.empty_target_resolution_mode =
                self.empty_target_resolution_mode.clone();
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StartExperiment {
    pub client_token: Option<String>,
    pub template_id: String,
    pub tags: BTreeMap<String, String>,
    /// `skip-all` or `run-all` [S9].
    pub actions_mode: Option<String>,
}

// ------------------------------------------------------------------ the body, as sent

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StopConditionIn {
    source: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FilterIn {
    path: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TargetIn {
    resource_type: Option<String>,
    resource_arns: Option<Vec<String>>,
    resource_tags: Option<BTreeMap<String, String>>,
    filters: Option<Vec<FilterIn>>,
    selection_mode: Option<String>,
    parameters: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ActionIn {
    action_id: Option<String>,
    description: Option<String>,
    parameters: Option<BTreeMap<String, String>>,
    targets: Option<BTreeMap<String, String>>,
    start_after: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateOptionsIn {
    account_targeting: Option<String>,
    empty_target_resolution_mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpdateOptionsIn {
    empty_target_resolution_mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartOptionsIn {
    actions_mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateTemplateIn {
    client_token: Option<String>,
    description: Option<String>,
    stop_conditions: Option<Vec<StopConditionIn>>,
    targets: Option<BTreeMap<String, TargetIn>>,
    actions: Option<BTreeMap<String, ActionIn>>,
    role_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    log_configuration: Option<Value>,
    experiment_options: Option<CreateOptionsIn>,
    experiment_report_configuration: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpdateTemplateIn {
    description: Option<String>,
    stop_conditions: Option<Vec<StopConditionIn>>,
    targets: Option<BTreeMap<String, TargetIn>>,
    actions: Option<BTreeMap<String, ActionIn>>,
    role_arn: Option<String>,
    log_configuration: Option<Value>,
    experiment_options: Option<UpdateOptionsIn>,
    experiment_report_configuration: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartExperimentIn {
    client_token: Option<String>,
    experiment_template_id: Option<String>,
    experiment_options: Option<StartOptionsIn>,
    tags: Option<BTreeMap<String, String>>,
}

/// A required member absent (Coral's wording, UNCONFIRMED for FIS; case 33).
fn missing(member: &str) -> FisError {
    FisError::Validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn required<T>(v: Option<T>, member: &str) -> Result<T, FisError> {
    v.ok_or_else(|| missing(member))
}

fn stop_conditions(v: Vec<StopConditionIn>) -> Result<Vec<StopCondition>, FisError> {
    v.into_iter()
        .map(|c| {
            Ok(StopCondition {
                source: required(c.source, "stopConditions.member.source")?,
                value: c.value,
            })
        })
        .collect()
}

fn targets(v: BTreeMap<String, TargetIn>) -> Result<BTreeMap<String, Target>, FisError> {
    v.into_iter()
        .map(|(name, t)| {
            let filters = t
                .filters
                .map(|fs| {
                    fs.into_iter()
                        .map(|f| {
                            Ok(TargetFilter {
                                path: required(f.path, "targets.filters.member.path")?,
                                values: required(f.values, "targets.filters.member.values")?,
                            })
                        })
                        .collect::<Result<Vec<_>, FisError>>()
                })
                .transpose()?;
            let target = Target {
                resource_type: required(t.resource_type, "targets.resourceType")?,
                resource_arns: t.resource_arns,
                resource_tags: t.resource_tags,
                filters,
                selection_mode: required(t.selection_mode, "targets.selectionMode")?,
                parameters: t.parameters,
            };
            Ok((name, target))
        })
        .collect()
}

fn actions(v: BTreeMap<String, ActionIn>) -> Result<BTreeMap<String, Action>, FisError> {
    v.into_iter()
        .map(|(name, a)| {
            let action = Action {
                action_id: required(a.action_id, "actions.actionId")?,
                description: a.description,
                parameters: a.parameters,
                targets: a.targets,
                start_after: a.start_after,
            };
            Ok((name, action))
        })
        .collect()
}

/// `clientToken`: 1 to 1,024 characters, no whitespace (the model's `ClientToken`).
fn client_token(t: Option<String>) -> Result<Option<String>, FisError> {
    if let Some(t) = &t {
        if t.is_empty() || t.chars().count() > 1024 || t.chars().any(char::is_whitespace) {
            return Err(FisError::Validation(
                "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must have length between 1 and 1024 and no whitespace".into(),
            ));
        }
    }
    Ok(t)
}

fn create_template(i: CreateTemplateIn) -> Result<CreateTemplate, FisError> {
    let client_token = client_token(i.client_token)?;
    let description = required(i.description, "description")?;
    let stops = stop_conditions(required(i.stop_conditions, "stopConditions")?)?;
    let actions = actions(required(i.actions, "actions")?)?;
    let role_arn = required(i.role_arn, "roleArn")?;
    let options = i.experiment_options.unwrap_or_default();
    let spec = TemplateSpec {
        description,
        targets: targets(i.targets.unwrap_or_default())?,
        actions,
        stop_conditions: stops,
        role_arn,
        tags: i.tags.unwrap_or_default(),
        log_configuration: i.log_configuration,
        experiment_options: ExperimentOptions {
            account_targeting: options.account_targeting,
            empty_target_resolution_mode: options.empty_target_resolution_mode,
            actions_mode: None,
        },
        experiment_report_configuration: i.experiment_report_configuration,
    };
    spec.validate()?;
    let spec = TemplateSpec {
        experiment_options: spec.experiment_options.with_defaults(),
        ..spec
    };
    Ok(CreateTemplate { client_token, spec })
}

fn update_template(id: String, i: UpdateTemplateIn) -> Result<UpdateTemplate, FisError> {
    Ok(UpdateTemplate {
        id,
        description: i.description,
        stop_conditions: i.stop_conditions.map(stop_conditions).transpose()?,
        targets: i.targets.map(targets).transpose()?,
        actions: i.actions.map(actions).transpose()?,
        role_arn: i.role_arn,
        log_configuration: i.log_configuration,
        empty_target_resolution_mode: i
            .experiment_options
            .and_then(|o| o.empty_target_resolution_mode),
        experiment_report_configuration: i.experiment_report_configuration,
    })
}

fn start_experiment(i: StartExperimentIn) -> Result<StartExperiment, FisError> {
    let client_token = client_token(i.client_token)?;
    let template_id = required(i.experiment_template_id, "experimentTemplateId")?;
    id(&template_id, "experimentTemplateId")?;
    let tags = i.tags.unwrap_or_default();
    fis::check_tags("tags", &tags)?;
    let actions_mode = i.experiment_options.and_then(|o| o.actions_mode);
    match actions_mode.as_deref() {
        None | Some("skip-all" | "run-all") => {}
        Some(other) => {
            return Err(FisError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'experimentOptions.actionsMode' failed to satisfy constraint: Member must satisfy enum value set: [skip-all, run-all]"
            )))
        }
    }
    Ok(StartExperiment {
        client_token,
        template_id,
        tags,
        actions_mode,
    })
}

/// A JSON body: empty means no members (SDKs send none for GET and DELETE).
fn body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, FisError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| FisError::Validation(format!("Unable to parse the request body: {e}")))
}

/// An id in the path or a member: at most 64 non-space characters (the model's
/// `ExperimentTemplateId`, `ExperimentId`; 128 for an `ActionId`).
fn id(s: &str, member: &str) -> Result<(), FisError> {
    let max = if member == "actionId" { 128 } else { 64 };
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_whitespace) {
        return Err(FisError::Validation(format!(
            "1 validation error detected: Value '{s}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max} and match [\\S]+"
        )));
    }
    Ok(())
}

/// What kind of list a `nextToken` continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Templates,
    Experiments,
    Actions,
}

impl List {
    fn as_str(self) -> &'static str {
        match self {
            List::Templates => "experiment-templates",
            List::Experiments => "experiments",
            List::Actions => "actions",
        }
    }
}

/// The opaque `nextToken` of a page that ends before position `after`.
pub fn page_token(list: List, after: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{after}", list.as_str()))
}

fn read_token(list: List, token: &str) -> Result<i64, FisError> {
    let bad = || FisError::Validation(format!("The nextToken {token} is not valid."));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (kind, after) = text.split_once(':').ok_or_else(bad)?;
    if kind != list.as_str() {
        return Err(bad());
    }
    after.parse().map_err(|_| bad())
}

/// Largest page (the model's `max`); also the size of a page when `maxResults` is absent
/// (UNCONFIRMED default).
pub const MAX_RESULTS: u32 = 100;

fn page(query: &Params, list: List) -> Result<Page, FisError> {
    let max_results = match query.get("maxResults") {
        None => MAX_RESULTS,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_RESULTS as i64).contains(&n) => n as u32,
            // Case 44: maxResults=0 is refused (the model's range, 1 to 100).
            _ => {
                return Err(FisError::Validation(format!(
                    "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_RESULTS}"
                )))
            }
        },
    };
    let after = match query.get("nextToken") {
        None => None,
        Some(t) => Some(read_token(list, t)?),
    };
    Ok(Page { max_results, after })
}

/// The path's resource and id: `/experimentTemplates`, `/experimentTemplates/{id}`, …
/// (`None`: not a FIS path).
pub fn route(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix('/')?;
    let (resource, id) = match rest.split_once('/') {
        Some((r, id)) => (r, Some(id)),
        None => (rest, None),
    };
    if !matches!(resource, "experimentTemplates" | "experiments" | "actions") {
        return None;
    }
    match id {
        Some(id) if id.is_empty() || id.contains('/') => None,
        id => Some((resource, id)),
    }
}

/// Whether a path is one of FIS's (the front door sends these here).
pub fn serves(path: &str) -> bool {
    route(path).is_some()
}

/// Read a request: `method`, `path` (as sent, percent-encoded), the raw query string and
/// the body, into the operation and its checked input.
pub fn parse(
    method: &str,
    path: &str,
    raw_query: &str,
    body_bytes: &[u8],
) -> Result<Request, FisError> {
    let unknown = || FisError::UnknownOperation(format!("{method} {path}"));
    let (resource, raw_id) = route(path).ok_or_else(unknown)?;
    let id_of = |member: &str| -> Result<String, FisError> {
        let raw = raw_id.unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| FisError::Validation(format!("The id {raw} is not valid UTF-8.")))?
            .into_owned();
        id(&decoded, member)?;
        Ok(decoded)
    };
    let query =
        || Params::parse(raw_query.as_bytes()).map_err(|e| FisError::Validation(e.to_string()));
    Ok(match (method, resource, raw_id.is_some()) {
        ("POST", "experimentTemplates", false) => {
            Request::CreateTemplate(create_template(body(body_bytes)?)?)
        }
        ("GET", "experimentTemplates", false) => {
            Request::ListTemplates(page(&query()?, List::Templates)?)
        }
        ("GET", "experimentTemplates", true) => Request::GetTemplate(id_of("id")?),
        ("DELETE", "experimentTemplates", true) => Request::DeleteTemplate(id_of("id")?),
        ("PATCH", "experimentTemplates", true) => {
            let id = id_of("id")?;
            Request::UpdateTemplate(update_template(id, body(body_bytes)?)?)
        }
        ("POST", "experiments", false) => {
            Request::StartExperiment(start_experiment(body(body_bytes)?)?)
        }
        ("GET", "experiments", false) => {
            let q = query()?;
            let template_id = q.get("experimentTemplateId").map(str::to_string);
            if let Some(t) = &template_id {
                id(t, "experimentTemplateId")?;
            }
            Request::ListExperiments {
                page: page(&q, List::Experiments)?,
                template_id,
            }
        }
        ("GET", "experiments", true) => Request::GetExperiment(id_of("id")?),
        ("DELETE", "experiments", true) => Request::StopExperiment(id_of("id")?),
        ("GET", "actions", false) => Request::ListActions(page(&query()?, List::Actions)?),
        ("GET", "actions", true) => Request::GetAction(id_of("actionId")?),
        _ => return Err(unknown()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The model's members of `shape` (from the extracted subset).
    fn members(shape: &str) -> Vec<String> {
        let m = super::super::model();
        m["shapes"][shape]["members"]
            .as_object()
            .unwrap_or_else(|| panic!("{shape} is not in fis-subset.json"))
            .keys()
            .cloned()
            .collect()
    }

    fn assert_members<T: serde::de::DeserializeOwned>(shape: &str) {
        let model = members(shape);
        for f in crate::protocol::shapes::serde_fields::<T>() {
            assert!(model.iter().any(|m| m == f), "{shape} has no member {f}");
        }
    }

    #[test]
    fn typed_inputs_follow_the_model() {
        assert_members::<CreateTemplateIn>("CreateExperimentTemplateRequest");
        assert_members::<UpdateTemplateIn>("UpdateExperimentTemplateRequest");
        assert_members::<StartExperimentIn>("StartExperimentRequest");
        assert_members::<TargetIn>("CreateExperimentTemplateTargetInput");
        assert_members::<TargetIn>("UpdateExperimentTemplateTargetInput");
        assert_members::<ActionIn>("CreateExperimentTemplateActionInput");
        assert_members::<ActionIn>("UpdateExperimentTemplateActionInputItem");
        assert_members::<FilterIn>("ExperimentTemplateTargetInputFilter");
        assert_members::<StopConditionIn>("CreateExperimentTemplateStopConditionInput");
        assert_members::<CreateOptionsIn>("CreateExperimentTemplateExperimentOptionsInput");
        assert_members::<UpdateOptionsIn>("UpdateExperimentTemplateExperimentOptionsInput");
        assert_members::<StartOptionsIn>("StartExperimentExperimentOptionsInput");
        // The records the answers are made of.
        assert_members::<Target>("ExperimentTemplateTarget");
        assert_members::<Action>("ExperimentTemplateAction");
        assert_members::<TargetFilter>("ExperimentTemplateTargetFilter");
        assert_members::<StopCondition>("ExperimentTemplateStopCondition");
        assert_members::<ExperimentOptions>("ExperimentOptions");
    }

    fn template() -> serde_json::Value {
        json!({
            "clientToken": "t1",
            "description": "interrupt",
            "stopConditions": [{"source": "none"}],
            "targets": {"spot": {
                "resourceType": "aws:ec2:spot-instance",
                "resourceArns": ["arn:aws:ec2:us-west-2:123456789012:instance/i-0123456789abcdef0"],
                "selectionMode": "ALL"}},
            "actions": {"interrupt": {
                "actionId": "aws:ec2:send-spot-instance-interruptions",
                "parameters": {"durationBeforeInterruption": "PT2M"},
                "targets": {"SpotInstances": "spot"}}},
            "roleArn": "arn:aws:iam::123456789012:role/fis"
        })
    }

    fn create(v: &serde_json::Value) -> Result<Request, FisError> {
        parse("POST", "/experimentTemplates", "", v.to_string().as_bytes())
    }

    #[test]
    fn a_template_is_read_and_checked() {
        let Request::CreateTemplate(c) = create(&template()).unwrap() else {
            panic!()
        };
        assert_eq!(c.client_token.as_deref(), Some("t1"));
        assert_eq!(
            c.spec.experiment_options.account_targeting.as_deref(),
            Some("single-account")
        );
    }

    /// Case 33: no roleArn; a body that is not JSON; a member of the wrong type.
    #[test]
    fn refusals_are_validation_exceptions() {
        let mut t = template();
        t.as_object_mut().unwrap().remove("roleArn");
        assert!(matches!(create(&t), Err(FisError::Validation(m)) if m.contains("roleArn")));
        for bad in [&b"{"[..], b"[]", b"\"x\"", b"{\"description\": 5}", b"\xff"] {
            assert!(
                matches!(
                    parse("POST", "/experimentTemplates", "", bad),
                    Err(FisError::Validation(_))
                ),
                "{bad:?}"
            );
        }
        let mut t = template();
        t["clientToken"] = json!("has space");
        assert!(create(&t).is_err());
    }

    #[test]
    fn routes_and_ids() {
        assert_eq!(
            parse("GET", "/experimentTemplates/EXT123", "", b"").unwrap(),
            Request::GetTemplate("EXT123".into())
        );
        assert_eq!(
            parse("DELETE", "/experiments/EXP1", "", b"").unwrap(),
            Request::StopExperiment("EXP1".into())
        );
        assert_eq!(
            parse(
                "GET",
                "/actions/aws%3Aec2%3Asend-spot-instance-interruptions",
                "",
                b""
            )
            .unwrap(),
            Request::GetAction("aws:ec2:send-spot-instance-interruptions".into())
        );
        assert!(matches!(
            parse("PUT", "/experiments", "", b""),
            Err(FisError::UnknownOperation(_))
        ));
        assert!(matches!(
            parse("GET", "/experiments/a/b", "", b""),
            Err(FisError::UnknownOperation(_))
        ));
        assert!(matches!(
            parse("GET", &format!("/experiments/{}", "x".repeat(65)), "", b""),
            Err(FisError::Validation(_))
        ));
        assert!(serves("/experiments") && serves("/actions/x") && !serves("/"));
        assert!(!serves("/experimentsx") && !serves("/experiments/"));
    }

    /// Case 44: the template filter, maxResults' range, tokens that are ours only.
    #[test]
    fn list_parameters() {
        let r = parse(
            "GET",
            "/experiments",
            "experimentTemplateId=EXT1&maxResults=5",
            b"",
        )
        .unwrap();
        assert_eq!(
            r,
            Request::ListExperiments {
                page: Page {
                    max_results: 5,
                    after: None
                },
                template_id: Some("EXT1".into())
            }
        );
        for q in [
            "maxResults=0",
            "maxResults=101",
            "maxResults=x",
            "nextToken=bogus",
        ] {
            assert!(
                matches!(
                    parse("GET", "/experiments", q, b""),
                    Err(FisError::Validation(_))
                ),
                "{q}"
            );
        }
        let token = page_token(List::Experiments, 42);
        let r = parse("GET", "/experiments", &format!("nextToken={token}"), b"").unwrap();
        assert!(matches!(
            r,
            Request::ListExperiments {
                page: Page {
                    after: Some(42),
                    ..
                },
                ..
            }
        ));
        // A templates token does not continue a list of experiments.
        let other = page_token(List::Templates, 42);
        assert!(parse("GET", "/experiments", &format!("nextToken={other}"), b"").is_err());
    }

    #[test]
    fn start_and_update() {
        let r = parse(
            "POST",
            "/experiments",
            "",
            br#"{"experimentTemplateId": "EXT1", "experimentOptions": {"actionsMode": "skip-all"}}"#,
        )
        .unwrap();
        let Request::StartExperiment(s) = r else {
            panic!()
        };
        assert_eq!(s.actions_mode.as_deref(), Some("skip-all"));
        assert!(parse("POST", "/experiments", "", b"{}").is_err());
        assert!(parse(
            "POST",
            "/experiments",
            "",
            br#"{"experimentTemplateId": "EXT1", "experimentOptions": {"actionsMode": "some"}}"#
        )
        .is_err());
        let r = parse(
            "PATCH",
            "/experimentTemplates/EXT1",
            "",
            br#"{"description": "new"}"#,
        )
        .unwrap();
        let Request::UpdateTemplate(u) = r else {
            panic!()
        };
        let Request::CreateTemplate(c) = create(&template()).unwrap() else {
            panic!()
        };
        let s = u.apply(&c.spec);
        assert_eq!(s.description, "new");
        assert_eq!(s.actions, c.spec.actions);
    }
}
