//! RDAP "ip network" answers (RFC 9083 §5.4), parsed into [`WhoisInfo`].

use std::net::IpAddr;

use serde_json::Value;

use super::{clean, country_code, WhoisError, WhoisInfo};

/// How deep nested entities are searched for the registrant and abuse contact. Real
/// answers nest two or three levels (ARIN: network → org → abuse POC).
const ENTITY_DEPTH: usize = 4;
/// Entities looked at per level: a hostile answer may list thousands.
const ENTITY_WIDTH: usize = 64;

/// Parses an RDAP ip network object. Invalid JSON, nesting deeper than serde_json's
/// recursion limit, or a top level that is no object is an error; missing fields are
/// `None`.
pub(crate) fn parse_ip_network(body: &[u8]) -> Result<WhoisInfo, WhoisError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| WhoisError::BadAnswer(e.to_string()))?;
    let Value::Object(_) = v else {
        return Err(WhoisError::BadAnswer("not a JSON object".to_owned()));
    };
    Ok(WhoisInfo {
        network: str_field(&v, "name"),
        cidr: cidr(&v),
        org: entity_with_role(&v, "registrant", ENTITY_DEPTH)
            .and_then(|e| vcard_text(e, "fn"))
            .or_else(|| description(&v)),
        country: v
            .get("country")
            .and_then(Value::as_str)
            .and_then(country_code),
        abuse: entity_with_role(&v, "abuse", ENTITY_DEPTH).and_then(|e| vcard_text(e, "email")),
    })
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).and_then(clean)
}

/// `cidr0_cidrs` (the RDAP CIDR extension, all five RIRs) when present, else the
/// prefix spanning `startAddress`..`endAddress`, else the range itself.
fn cidr(v: &Value) -> Option<String> {
    if let Some(first) = v
        .get("cidr0_cidrs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        let prefix = first
            .get("v4prefix")
            .or_else(|| first.get("v6prefix"))
            .and_then(Value::as_str);
        let len = first.get("length").and_then(Value::as_u64);
        if let (Some(p), Some(l)) = (prefix, len) {
            return clean(&format!("{p}/{l}"));
        }
    }
    let start: IpAddr = v.get("startAddress")?.as_str()?.trim().parse().ok()?;
    let end: IpAddr = v.get("endAddress")?.as_str()?.trim().parse().ok()?;
    Some(range_text(start, end))
}

/// One prefix if `start..=end` is exactly one, else `start - end`.
pub(super) fn range_text(start: IpAddr, end: IpAddr) -> String {
    let single = match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => {
            let mut nets = ipnet::Ipv4Subnets::new(s, e, 0);
            nets.next()
                .filter(|_| nets.next().is_none())
                .map(|n| n.to_string())
        }
        (IpAddr::V6(s), IpAddr::V6(e)) => {
            let mut nets = ipnet::Ipv6Subnets::new(s, e, 0);
            nets.next()
                .filter(|_| nets.next().is_none())
                .map(|n| n.to_string())
        }
        _ => None,
    };
    single.unwrap_or_else(|| format!("{start} - {end}"))
}

/// The first entity (breadth first, bounded) whose `roles` include `role`.
fn entity_with_role<'v>(v: &'v Value, role: &str, depth: usize) -> Option<&'v Value> {
    let entities = v.get("entities")?.as_array()?;
    let has_role = |e: &&Value| {
        e.get("roles")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(role)))
    };
    if let Some(e) = entities.iter().take(ENTITY_WIDTH).find(has_role) {
        return Some(e);
    }
    if depth == 0 {
        return None;
    }
    entities
        .iter()
        .take(ENTITY_WIDTH)
        .find_map(|e| entity_with_role(e, role, depth - 1))
}

/// The text of the first `name` property of an entity's jCard (RFC 7095):
/// `["vcard", [[name, params, type, value], ...]]`.
fn vcard_text(entity: &Value, name: &str) -> Option<String> {
    let props = entity.get("vcardArray")?.as_array()?.get(1)?.as_array()?;
    props.iter().find_map(|p| {
        let p = p.as_array()?;
        if p.first()?.as_str()? != name {
            return None;
        }
        clean(p.get(3)?.as_str()?)
    })
}

/// The first non-empty line of the first remark's description (RIPE and APNIC put the
/// organisation's own wording there).
fn description(v: &Value) -> Option<String> {
    v.get("remarks")?
        .as_array()?
        .iter()
        .filter_map(|r| r.get("description")?.as_array())
        .flatten()
        .find_map(|line| clean(line.as_str()?))
}
