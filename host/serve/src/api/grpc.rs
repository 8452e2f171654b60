//! The gRPC API (tonic, package `pathsec.v1`, generated from `proto/pathsec/v1/pathsec.proto`). Each
//! message becomes the request the HTTP API parses (a `RequestFile`, a `DeviceFacts`, a `ListsFile`),
//! so both are decided by the same code and refused with the same messages.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use pathsec::files::{InterconnectFile, ListsFile, PathAFile, PathBFile, RequestFile, ServerNetworkFile};
use pathsec::vocab::{Agreement, RegistrationSource};
use pathsec::{AccessKind, AccessKinds, PathATerms, PlmnId, Registration};
use tonic::{Request, Response, Status};

use pathsec::related::files::{
    AccessFile, AdmissionFile, KeyFile, LocationFile, MediaFile, NameFile, ProtectionFile, TriggerFile, VoucherFile,
    WindowFile,
};

use crate::api::{Answer, Origin, Served, related};
use crate::error::ApiError;
use crate::service::DeviceFacts;

/// The code generated from the `.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("pathsec.v1");
}

use proto::path_secure_server::{PathSecure, PathSecureServer};

/// The gRPC service on `served`, as a tonic server taking messages up to `max_body` bytes.
pub fn service(served: Arc<Served>) -> PathSecureServer<Grpc> {
    let max = served.max_body;
    PathSecureServer::new(Grpc { served }).max_decoding_message_size(max)
}

/// The gRPC front end.
pub struct Grpc {
    served: Arc<Served>,
}

impl Grpc {
    fn finish<T>(
        &self,
        operation: &'static str,
        started: Instant,
        result: Result<T, ApiError>,
    ) -> Result<Response<T>, Status> {
        let status = result.as_ref().err().map(ApiError::status);
        self.served.metrics.observe("grpc", operation, started.elapsed(), status);
        result.map(Response::new).map_err(|error| error.to_grpc())
    }

    /// Whether an administrative call may go ahead (named apart from the `Admit` call).
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), ApiError> {
        let origin = request.extensions().get::<Origin>().copied().unwrap_or(Origin::Tcp);
        self.served.admit(origin, request.metadata().get("authorization").and_then(|value| value.to_str().ok()))
    }
}

#[tonic::async_trait]
impl PathSecure for Grpc {
    async fn decide(&self, request: Request<proto::DecideRequest>) -> Result<Response<proto::Decision>, Status> {
        let started = Instant::now();
        let result = request_file(request.get_ref(), "")
            .and_then(|file| self.served.service.decide(&file, ""))
            .map(|decision| decision_message(&Answer::from(&decision)));
        self.finish("decide", started, result)
    }

    async fn decide_batch(
        &self,
        request: Request<proto::DecideBatchRequest>,
    ) -> Result<Response<proto::DecideBatchResponse>, Status> {
        let started = Instant::now();
        let result = (|| {
            let files = request
                .get_ref()
                .requests
                .iter()
                .enumerate()
                .map(|(index, message)| request_file(message, &format!("requests[{index}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let decisions = self.served.service.decide_batch(&files)?;
            Ok(proto::DecideBatchResponse {
                decisions: decisions.iter().map(|decision| decision_message(&Answer::from(decision))).collect(),
            })
        })();
        self.finish("decide-batch", started, result)
    }

    async fn put_device(
        &self,
        request: Request<proto::PutDeviceRequest>,
    ) -> Result<Response<proto::PutDeviceResponse>, Status> {
        let started = Instant::now();
        let result = (|| {
            self.authorize(&request)?;
            let message = request.get_ref();
            let facts = DeviceFacts {
                home: parse(&message.home, "home")?,
                serving: optional(&message.serving, "serving")?,
                access: optional(&message.access, "access")?,
                ciphering: message.ciphering,
                integrity: message.integrity,
            };
            let existed = self.served.service.put_device(&message.name, &facts)?;
            Ok(proto::PutDeviceResponse { existed })
        })();
        self.finish("put-device", started, result)
    }

    async fn put_lists(
        &self,
        request: Request<proto::PutListsRequest>,
    ) -> Result<Response<proto::PutListsResponse>, Status> {
        let started = Instant::now();
        let result = (|| {
            self.authorize(&request)?;
            let message = request.get_ref();
            let plmns = |values: &[String], field: &str| -> Result<Vec<PlmnId>, ApiError> {
                values.iter().enumerate().map(|(index, value)| parse(value, &format!("{field}[{index}]"))).collect()
            };
            let mut path_a: Vec<PathAFile> =
                plmns(&message.path_a, "path-a")?.into_iter().map(PathAFile::from).collect();
            let mut listed: HashSet<PlmnId> = path_a.iter().map(|entry| entry.network).collect();
            for (index, entry) in message.path_a_entries.iter().enumerate() {
                let at = |field: &str| format!("path-a-entries[{index}].{field}");
                let network: PlmnId = parse(&entry.network, &at("network"))?;
                if !listed.insert(network) {
                    return Err(ApiError::invalid(
                        &at("network"),
                        format!("`{network}` is listed twice in List 1: give it in `path-a` or `path-a-entries`, once"),
                    ));
                }
                let access = match entry.access.is_empty() {
                    true => AccessKinds::THREE_GPP,
                    false => entry
                        .access
                        .iter()
                        .enumerate()
                        .map(|(kind, name)| parse::<AccessKind>(name, &at(&format!("access[{kind}]"))))
                        .collect::<Result<AccessKinds, ApiError>>()?,
                };
                path_a.push(PathAFile {
                    network,
                    terms: PathATerms { access, integrity_required: entry.integrity_required },
                });
            }
            let lists = ListsFile {
                integrity_required: message.integrity_required,
                path_a,
                path_b: message
                    .path_b
                    .iter()
                    .enumerate()
                    .map(|(index, pair)| {
                        Ok(PathBFile {
                            home: parse(&pair.home, &format!("path-b[{index}].home"))?,
                            server: parse(&pair.server, &format!("path-b[{index}].server"))?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
                interconnect: plmns(&message.interconnect, "interconnect")?,
                interconnect_per_home: message
                    .interconnect_per_home
                    .iter()
                    .enumerate()
                    .map(|(index, entry)| {
                        Ok(InterconnectFile {
                            home: parse(&entry.home, &format!("interconnect-per-home[{index}].home"))?,
                            visited: plmns(&entry.visited, &format!("interconnect-per-home[{index}].visited"))?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
                server_networks: message
                    .server_networks
                    .iter()
                    .enumerate()
                    .map(|(index, entry)| {
                        Ok(ServerNetworkFile {
                            server: parse(&entry.server, &format!("server-networks[{index}].server"))?,
                            network: parse(&entry.network, &format!("server-networks[{index}].network"))?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
                trusted_access_networks: message.trusted_access_networks.clone(),
            };
            Ok(lists)
        })();
        let result = match result {
            Ok(lists) => super::put_lists_blocking(Arc::clone(&self.served.service), lists).await,
            Err(error) => Err(error),
        };
        let result = result.map(|generation| proto::PutListsResponse { generation });
        self.finish("put-lists", started, result)
    }

    async fn swap_policy(
        &self,
        request: Request<proto::SwapPolicyRequest>,
    ) -> Result<Response<proto::SwapPolicyResponse>, Status> {
        let started = Instant::now();
        let admitted = self.authorize(&request);
        let signature = request.metadata().get("x-pathsec-signature").map(|value| value.to_str().map(str::to_owned));
        let message = request.into_inner();
        let service = Arc::clone(&self.served.service);
        let result = async {
            admitted?;
            let signature = signature
                .transpose()
                .map_err(|_| ApiError::invalid("x-pathsec-signature", "the signature metadata is not text"))?;
            tokio::task::spawn_blocking(move || service.swap(&message.name, &message.component, signature.as_deref()))
                .await
                .map_err(|_| ApiError::unavailable("", "the swap's thread failed; the active policy stays"))?
                .map(|(name, sha256)| proto::SwapPolicyResponse { name, sha256 })
        }
        .await;
        self.finish("swap-policy", started, result)
    }

    async fn decide_trigger(
        &self,
        request: Request<proto::TriggerRequest>,
    ) -> Result<Response<proto::TriggerVerdict>, Status> {
        let started = Instant::now();
        let m = request.into_inner();
        let result = (|| {
            let file = TriggerFile {
                naf: parse(&m.naf, "naf")?,
                registered: m.registered,
                protection: m.protection.map(|p| ProtectionFile {
                    mac_verified: p.mac_verified,
                    fields_covered: p.fields_covered,
                    key_expired: p.key_expired,
                }),
                window: m.window.map(|w| WindowFile { opens_in: w.opens_in, closes_in: w.closes_in }),
            };
            let answer = related::trigger(&self.served.service, &file)?;
            Ok(proto::TriggerVerdict {
                outcome: answer.outcome.into(),
                reason: answer.reason.into(),
                fault: answer.fault,
            })
        })();
        self.finish("related", started, result)
    }

    async fn admit(
        &self,
        request: Request<proto::AdmissionRequest>,
    ) -> Result<Response<proto::AdmissionVerdict>, Status> {
        let started = Instant::now();
        let m = request.into_inner();
        let result = (|| {
            let file = AdmissionFile {
                server: parse(&m.server, "server")?,
                external_id: m.external_id,
                attachment_block_enabled: m.attachment_block_enabled,
                server_named: m.server_named,
                server_permitted: m.server_permitted.unwrap_or(true),
                proposed_name: m.proposed_name,
            };
            let answer = related::admission(&self.served.service, &file)?;
            Ok(proto::AdmissionVerdict {
                admission: answer.admission,
                cause: answer.cause.map(Into::into),
                back_off: answer.back_off,
                fault: answer.fault,
                name: answer.name,
                asked: answer.asked,
            })
        })();
        self.finish("related", started, result)
    }

    async fn submit_trigger(
        &self,
        request: Request<proto::SubmissionRequest>,
    ) -> Result<Response<proto::SubmissionVerdict>, Status> {
        let started = Instant::now();
        let m = request.into_inner();
        let result = (|| {
            let ask = related::SubmissionAsk { server: parse(&m.server, "server")? };
            let answer = related::submission(&self.served.service, &ask)?;
            Ok(proto::SubmissionVerdict { accept: answer.accept, reason: answer.reason.into(), fault: answer.fault })
        })();
        self.finish("related", started, result)
    }

    async fn decide_access(
        &self,
        request: Request<proto::AccessRequest>,
    ) -> Result<Response<proto::AccessVerdict>, Status> {
        let started = Instant::now();
        let m = request.into_inner();
        let result = (|| {
            let keys = m
                .keys
                .iter()
                .enumerate()
                .map(|(index, key)| {
                    Ok(KeyFile { method: parse(&key.method, &format!("keys[{index}].method"))?, expired: key.expired })
                })
                .collect::<Result<_, ApiError>>()?;
            let file = AccessFile {
                serving: m.serving.as_deref().map(|serving| parse(serving, "serving")).transpose()?,
                access: parse(&m.access, "access")?,
                access_network: m.access_network,
                tunnel_up: m.tunnel_up,
                keys,
            };
            let answer = related::access(&self.served.service, &file)?;
            Ok(proto::AccessVerdict {
                trusted: answer.trusted,
                reason: answer.reason.into(),
                bootstrap: answer.bootstrap,
                fault: answer.fault,
            })
        })();
        self.finish("related", started, result)
    }

    async fn decide_media(
        &self,
        request: Request<proto::MediaRequest>,
    ) -> Result<Response<proto::MediaVerdict>, Status> {
        let started = Instant::now();
        let m = request.into_inner();
        let file = MediaFile {
            crosses_cs_leg: m.crosses_cs_leg,
            via_gateway: m.via_gateway,
            network_path_secure: m.network_path_secure,
            device: m.device,
            peer: m.peer,
            voucher: m.voucher.map(|v| VoucherFile { device: v.device, peer: v.peer }),
        };
        let result = related::media(&self.served.service, &file).map(|answer| proto::MediaVerdict {
            protection: answer.protection.into(),
            reason: answer.reason.into(),
            voucher: answer.voucher.into(),
            fault: answer.fault,
        });
        self.finish("related", started, result)
    }

    async fn decide_location(
        &self,
        request: Request<proto::LocationRequest>,
    ) -> Result<Response<proto::LocationVerdict>, Status> {
        let started = Instant::now();
        let file = LocationFile {
            security_association: request.get_ref().security_association,
            covers_home_address: request.get_ref().covers_home_address,
        };
        let result = related::location(&self.served.service, &file).map(|answer| proto::LocationVerdict {
            outcome: answer.outcome.into(),
            reason: answer.reason.into(),
            fault: answer.fault,
        });
        self.finish("related", started, result)
    }

    async fn decide_name(&self, request: Request<proto::NameRequest>) -> Result<Response<proto::NameVerdict>, Status> {
        let started = Instant::now();
        let m = request.into_inner();
        let result = (|| {
            let file = NameFile {
                name: m.name.as_deref().map(|name| parse(name, "name")).transpose()?,
                operator_domain: parse(&m.operator_domain, "operator_domain")?,
                name_free: m.name_free,
                requester: m.requester,
                security_association: m.security_association,
                subscriber_number: m.subscriber_number,
                subscriber_name: m.subscriber_name,
            };
            let answer = related::name(&self.served.service, &file)?;
            Ok(proto::NameVerdict {
                outcome: answer.outcome,
                name: answer.name,
                bound_to: answer.bound_to,
                refusal: answer.refusal.map(Into::into),
                fault: answer.fault,
            })
        })();
        self.finish("related", started, result)
    }

    async fn status(&self, _request: Request<proto::StatusRequest>) -> Result<Response<proto::StatusResponse>, Status> {
        let status = self.served.service.status();
        Ok(Response::new(proto::StatusResponse {
            policy: status.policy,
            sha256: status.sha256,
            policy_generation: status.policy_generation,
            lists_generation: status.lists_generation,
            devices: status.devices,
            facts: status.facts,
            feed_revision: status.feed_revision,
            uptime_seconds: status.uptime_seconds,
            registration: Some(proto::RegistrationStatus {
                timer_seconds: status.registration.timer_seconds,
                options: status.registration.options,
                serves: status.registration.serves,
                roaming_limited: status.registration.roaming_limited,
                accept_plain_from: status.registration.accept_plain_from,
                accept_plain_unciphered: status.registration.accept_plain_unciphered,
            }),
        }))
    }
}

fn decision_message(answer: &Answer) -> proto::Decision {
    proto::Decision {
        action: answer.action.to_owned(),
        reason: answer.reason.to_owned(),
        fault: answer.fault.clone(),
        made_by: answer.made_by.to_owned(),
    }
}

/// `value` read as a `T`; the error names `field` (in the JSON API's kebab-case, as its errors do).
fn parse<T: FromStr<Err: std::fmt::Display>>(value: &str, field: &str) -> Result<T, ApiError> {
    let field = field.replace('_', "-");
    value.parse().map_err(|e| ApiError::invalid(&field, format!("`{field}`: {e}")))
}

fn optional<T: FromStr<Err: std::fmt::Display>>(value: &Option<String>, field: &str) -> Result<Option<T>, ApiError> {
    value.as_deref().map(|value| parse(value, field)).transpose()
}

/// The request file a `DecideRequest` says; errors name `field`'s parts.
fn request_file(message: &proto::DecideRequest, field: &str) -> Result<RequestFile, ApiError> {
    let at = |part: &str| crate::service::join(field, part);
    let registration = match &message.registration {
        None => None,
        Some(registration) => Some(match registration.case.as_str() {
            "none" => Registration::None,
            "mismatch" => Registration::Mismatch,
            "agreed" => Registration::Agreed(Agreement {
                source: parse::<RegistrationSource>(&registration.source, &at("registration.source"))?,
                application_security: registration.application_security,
                accept_plain_unciphered: registration.accept_plain_unciphered,
            }),
            other => {
                let field = at("registration.case");
                return Err(ApiError::invalid(
                    &field,
                    format!("`{field}`: `{other}` is not a registration: write `none`, `agreed` or `mismatch`"),
                ));
            }
        }),
    };
    Ok(RequestFile {
        role: parse(&message.role, &at("role"))?,
        event: parse(&message.event, &at("event"))?,
        server: parse(&message.server, &at("server"))?,
        device: message.device.clone(),
        serving: optional(&message.serving, &at("serving"))?,
        home: optional(&message.home, &at("home"))?,
        access: optional(&message.access, &at("access"))?,
        ciphering: message.ciphering,
        integrity: message.integrity,
        access_integrity: optional(&message.access_integrity, &at("access_integrity"))?,
        end_to_end: optional(&message.end_to_end, &at("end_to_end"))?,
        registration,
    })
}
