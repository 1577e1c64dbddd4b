//! A small, strict checker of XML documents against an XSD, for the subset
//! of XML Schema 1.0 that the vendored JUnit schema (`tests/schemas/junit-10.xsd`)
//! uses — and nothing else: a schema using any other construct is refused
//! when it is read, so no constraint is ever skipped in silence.
//!
//! Why not a crate: libxml (bindings to libxml2) needs libclang on every
//! machine that builds the tests, and the one pure-Rust validator
//! (xmlschema 0.0.14) rejects valid JUnit (it requires every element of an
//! optional, repeated `xs:choice`). The subset:
//!
//! - top-level `xs:element` (with `type`, or an anonymous `xs:complexType`),
//!   `xs:complexType` (named or anonymous, `mixed`), `xs:simpleType` with an
//!   `xs:restriction` of `xs:string` by `xs:pattern`;
//! - particles `xs:sequence`, `xs:choice` and `xs:element` (`ref`, or `name`
//!   with `type`), each with `minOccurs`/`maxOccurs` (`unbounded` included);
//! - `xs:attribute` with `name`, `type` (`xs:string` or a named simple type)
//!   and `use="required"`;
//! - element type `xs:string` (text only) and named complex types.
//!
//! Validation: the root is a declared top-level element; every attribute is
//! declared (no wildcard in the subset), required ones are present, typed
//! values match their pattern anchored; children match the content model
//! (all ways, with backtracking); text outside `mixed` content is whitespace.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};

const XS: &str = "http://www.w3.org/2001/XMLSchema";

/// How often a particle may occur.
#[derive(Debug, Clone, Copy)]
struct Occurs {
    min: usize,
    /// `None`: unbounded.
    max: Option<usize>,
}

#[derive(Debug, Clone)]
enum Particle {
    /// An element: by the name it has in instances, and the declaration that checks it.
    Element(String, Occurs),
    Sequence(Vec<Particle>, Occurs),
    Choice(Vec<Particle>, Occurs),
}

#[derive(Debug, Clone)]
enum SimpleType {
    String,
    Pattern(regex::Regex),
}

#[derive(Debug, Clone)]
struct Attribute {
    ty: SimpleType,
    required: bool,
}

#[derive(Debug, Clone)]
enum ElementType {
    /// Text only, no attributes (`type="xs:string"`).
    Text,
    Complex {
        mixed: bool,
        attributes: HashMap<String, Attribute>,
        content: Option<Particle>,
    },
}

/// A schema of the subset, read from XSD text.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Element declarations by name: the top-level ones and the local named ones.
    elements: HashMap<String, ElementType>,
    roots: BTreeSet<String>,
}

fn is_xs(node: roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(XS) && node.tag_name().name() == name
}

fn xs_children<'a, 'i>(node: roxmltree::Node<'a, 'i>) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children().filter(|c| c.is_element())
}

fn occurs(node: roxmltree::Node<'_, '_>) -> Result<Occurs, String> {
    let min = match node.attribute("minOccurs") {
        None => 1,
        Some(n) => n.parse().map_err(|_| format!("minOccurs `{n}`"))?,
    };
    let max = match node.attribute("maxOccurs") {
        None => Some(1),
        Some("unbounded") => None,
        Some(n) => Some(n.parse().map_err(|_| format!("maxOccurs `{n}`"))?),
    };
    Ok(Occurs { min, max })
}

/// Refuses any attribute of a schema element outside `allowed`.
fn only(node: roxmltree::Node<'_, '_>, allowed: &[&str]) -> Result<(), String> {
    for a in node.attributes() {
        if !allowed.contains(&a.name()) {
            return Err(format!(
                "`{}` on xs:{} is outside the supported subset",
                a.name(),
                node.tag_name().name()
            ));
        }
    }
    Ok(())
}

impl Schema {
    /// Reads an XSD; `Err` names the first construct outside the subset.
    pub fn parse(text: &str) -> Result<Schema, String> {
        let doc = roxmltree::Document::parse(text).map_err(|e| format!("the XSD is not XML: {e}"))?;
        let root = doc.root_element();
        if !is_xs(root, "schema") {
            return Err("the root is not xs:schema".into());
        }
        only(root, &[])?;
        let mut simple: HashMap<String, SimpleType> = HashMap::new();
        let mut complex: HashMap<String, roxmltree::Node<'_, '_>> = HashMap::new();
        let mut tops = Vec::new();
        for child in xs_children(root) {
            let name = child.attribute("name").ok_or("a top-level declaration without a name")?.to_string();
            match child.tag_name().name() {
                "simpleType" if is_xs(child, "simpleType") => {
                    only(child, &["name"])?;
                    simple.insert(name, read_simple(child)?);
                }
                "complexType" if is_xs(child, "complexType") => {
                    complex.insert(name, child);
                }
                "element" if is_xs(child, "element") => tops.push((name, child)),
                other => return Err(format!("top-level xs:{other} is outside the supported subset")),
            }
        }
        let mut schema = Schema {
            elements: HashMap::new(),
            roots: tops.iter().map(|(n, _)| n.clone()).collect(),
        };
        for (name, node) in tops {
            only(node, &["name", "type"])?;
            let ty = match (node.attribute("type"), xs_children(node).next()) {
                (Some(t), None) => schema.named_type(t, &simple, &complex)?,
                (None, Some(c)) if is_xs(c, "complexType") && xs_children(node).count() == 1 => {
                    schema.read_complex(c, &simple, &complex)?
                }
                _ => return Err(format!("element `{name}`: give `type` or one anonymous xs:complexType")),
            };
            if schema.elements.get(&name).is_some_and(|d| !same_shape(d, &ty)) {
                return Err(format!("a local declaration of `{name}` differs from the top-level one"));
            }
            schema.elements.insert(name, ty);
        }
        Ok(schema)
    }

    fn named_type(
        &mut self,
        ty: &str,
        simple: &HashMap<String, SimpleType>,
        complex: &HashMap<String, roxmltree::Node<'_, '_>>,
    ) -> Result<ElementType, String> {
        if ty == "xs:string" {
            return Ok(ElementType::Text);
        }
        match complex.get(ty) {
            Some(node) => self.read_complex(*node, simple, complex),
            None if simple.contains_key(ty) => Err(format!("element of simple type `{ty}` is outside the subset")),
            None => Err(format!("unknown type `{ty}`")),
        }
    }

    fn read_complex(
        &mut self,
        node: roxmltree::Node<'_, '_>,
        simple: &HashMap<String, SimpleType>,
        complex: &HashMap<String, roxmltree::Node<'_, '_>>,
    ) -> Result<ElementType, String> {
        only(node, &["name", "mixed"])?;
        let mixed = match node.attribute("mixed") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(format!("mixed `{other}`")),
        };
        let mut attributes = HashMap::new();
        let mut content = None;
        for child in xs_children(node) {
            match child.tag_name().name() {
                "attribute" if is_xs(child, "attribute") => {
                    only(child, &["name", "type", "use"])?;
                    let name = child.attribute("name").ok_or("an attribute without a name")?;
                    let ty = match child.attribute("type").unwrap_or("xs:string") {
                        "xs:string" => SimpleType::String,
                        t => simple.get(t).cloned().ok_or(format!("unknown attribute type `{t}`"))?,
                    };
                    let required = match child.attribute("use") {
                        None | Some("optional") => false,
                        Some("required") => true,
                        Some(other) => return Err(format!("use `{other}`")),
                    };
                    attributes.insert(name.to_string(), Attribute { ty, required });
                }
                "sequence" | "choice" if content.is_none() && child.tag_name().namespace() == Some(XS) => {
                    content = Some(self.read_particle(child, simple, complex)?);
                }
                other => return Err(format!("xs:{other} in a complex type is outside the supported subset")),
            }
        }
        Ok(ElementType::Complex {
            mixed,
            attributes,
            content,
        })
    }

    fn read_particle(
        &mut self,
        node: roxmltree::Node<'_, '_>,
        simple: &HashMap<String, SimpleType>,
        complex: &HashMap<String, roxmltree::Node<'_, '_>>,
    ) -> Result<Particle, String> {
        let occurs = occurs(node)?;
        match node.tag_name().name() {
            "sequence" | "choice" => {
                only(node, &["minOccurs", "maxOccurs"])?;
                let items = xs_children(node)
                    .map(|c| self.read_particle(c, simple, complex))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if node.tag_name().name() == "sequence" {
                    Particle::Sequence(items, occurs)
                } else {
                    Particle::Choice(items, occurs)
                })
            }
            "element" if node.tag_name().namespace() == Some(XS) => {
                only(node, &["ref", "name", "type", "minOccurs", "maxOccurs"])?;
                match (node.attribute("ref"), node.attribute("name"), node.attribute("type")) {
                    (Some(r), None, None) => Ok(Particle::Element(r.to_string(), occurs)),
                    (None, Some(name), Some(ty)) if xs_children(node).next().is_none() => {
                        let declared = self.named_type(ty, simple, complex)?;
                        if self.elements.get(name).is_some_and(|d| !same_shape(d, &declared)) {
                            return Err(format!("two local declarations of `{name}` differ"));
                        }
                        self.elements.insert(name.to_string(), declared);
                        Ok(Particle::Element(name.to_string(), occurs))
                    }
                    _ => Err("a local xs:element needs `ref`, or `name` with `type`".into()),
                }
            }
            other => Err(format!("xs:{other} as a particle is outside the supported subset")),
        }
    }

    /// The violations of `xml` (empty: valid).
    pub fn validate(&self, xml: &str) -> Vec<String> {
        let doc = match roxmltree::Document::parse(xml) {
            Ok(d) => d,
            Err(e) => return vec![format!("not well-formed XML: {e}")],
        };
        let root = doc.root_element();
        let name = root.tag_name().name();
        let mut out = Vec::new();
        if !self.roots.contains(name) || root.tag_name().namespace().is_some() {
            out.push(format!("/{name}: not a root element the schema declares"));
            return out;
        }
        self.check(root, &format!("/{name}"), &mut out);
        out
    }

    fn check(&self, node: roxmltree::Node<'_, '_>, path: &str, out: &mut Vec<String>) {
        let name = node.tag_name().name();
        let Some(ty) = self.elements.get(name) else {
            out.push(format!("{path}: no declaration of `{name}`"));
            return;
        };
        let children: Vec<roxmltree::Node<'_, '_>> = node.children().filter(|c| c.is_element()).collect();
        let text_outside = node
            .children()
            .any(|c| c.is_text() && !c.text().unwrap_or_default().trim().is_empty());
        match ty {
            ElementType::Text => {
                if let Some(a) = node.attributes().next() {
                    out.push(format!("{path}: attribute `{}` on a text-only element", a.name()));
                }
                if !children.is_empty() {
                    out.push(format!("{path}: child elements in a text-only element"));
                }
            }
            ElementType::Complex {
                mixed,
                attributes,
                content,
            } => {
                for a in node.attributes() {
                    if a.namespace().is_some() {
                        continue;
                    }
                    match attributes.get(a.name()) {
                        None => out.push(format!("{path}: attribute `{}` is not declared", a.name())),
                        Some(Attribute {
                            ty: SimpleType::Pattern(p),
                            ..
                        }) if !p.is_match(a.value()) => {
                            out.push(format!("{path}/@{}: `{}` does not match the pattern", a.name(), a.value()))
                        }
                        Some(_) => {}
                    }
                }
                for (declared, attribute) in attributes {
                    if attribute.required && node.attribute(declared.as_str()).is_none() {
                        out.push(format!("{path}: required attribute `{declared}` is missing"));
                    }
                }
                if text_outside && !mixed {
                    out.push(format!("{path}: text in element-only content"));
                }
                let names: Vec<&str> = children.iter().map(|c| c.tag_name().name()).collect();
                let fits = match content {
                    None => names.is_empty(),
                    Some(p) => ends(p, &names, 0).contains(&names.len()),
                };
                if !fits {
                    out.push(format!("{path}: children {names:?} do not fit the content model"));
                }
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for child in children {
            let n = child.tag_name().name();
            let index = seen.entry(n).or_default();
            *index += 1;
            self.check(child, &format!("{path}/{n}[{index}]"), out);
        }
    }
}

fn same_shape(a: &ElementType, b: &ElementType) -> bool {
    matches!((a, b), (ElementType::Text, ElementType::Text))
}

fn read_simple(node: roxmltree::Node<'_, '_>) -> Result<SimpleType, String> {
    let mut kids = xs_children(node);
    let restriction = kids
        .next()
        .filter(|r| is_xs(*r, "restriction"))
        .ok_or("a simple type without xs:restriction")?;
    if kids.next().is_some() || restriction.attribute("base") != Some("xs:string") {
        return Err("only a restriction of xs:string is supported".into());
    }
    only(restriction, &["base"])?;
    let mut facets = xs_children(restriction);
    let pattern = facets
        .next()
        .filter(|f| is_xs(*f, "pattern"))
        .ok_or("only an xs:pattern facet is supported")?;
    if facets.next().is_some() {
        return Err("only one facet is supported".into());
    }
    let value = pattern.attribute("value").ok_or("xs:pattern without a value")?;
    let anchored = regex::Regex::new(&format!("^(?:{value})$")).map_err(|e| format!("pattern `{value}`: {e}"))?;
    Ok(SimpleType::Pattern(anchored))
}

/// Every position the particle can end at, starting at `from` in `names`.
fn ends(p: &Particle, names: &[&str], from: usize) -> BTreeSet<usize> {
    let (once, occurs): (Box<dyn Fn(usize) -> BTreeSet<usize> + '_>, Occurs) = match p {
        Particle::Element(name, o) => (
            Box::new(move |at: usize| names.get(at).filter(|n| **n == name.as_str()).map(|_| at + 1).into_iter().collect()),
            *o,
        ),
        Particle::Sequence(items, o) => (
            Box::new(move |at: usize| {
                items.iter().fold(BTreeSet::from([at]), |positions, item| {
                    positions.iter().flat_map(|p| ends(item, names, *p)).collect()
                })
            }),
            *o,
        ),
        Particle::Choice(items, o) => (
            Box::new(move |at: usize| items.iter().flat_map(|item| ends(item, names, at)).collect()),
            *o,
        ),
    };
    let mut result = BTreeSet::new();
    let mut frontier = BTreeSet::from([from]);
    let mut count = 0;
    loop {
        if count >= occurs.min {
            result.extend(frontier.iter().copied());
        }
        if occurs.max.is_some_and(|m| count >= m) || frontier.is_empty() {
            break;
        }
        let next: BTreeSet<usize> = frontier.iter().flat_map(|at| once(*at)).collect();
        // Past the minimum, a repetition that reaches no new position adds nothing (an empty match loops).
        if count >= occurs.min && next.is_subset(&result) {
            break;
        }
        frontier = next;
        count += 1;
        if count > names.len() + occurs.min + 1 {
            break;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_models_with_repetition_and_choice() {
        let e = |n: &str, min, max| Particle::Element(n.into(), Occurs { min, max });
        let any_of_ab = Particle::Choice(vec![e("a", 1, Some(1)), e("b", 1, Some(1))], Occurs { min: 0, max: None });
        assert!(ends(&any_of_ab, &[], 0).contains(&0));
        assert!(ends(&any_of_ab, &["a", "b", "a"], 0).contains(&3));
        let seq = Particle::Sequence(vec![e("a", 1, Some(1)), e("b", 0, Some(1))], Occurs { min: 1, max: Some(1) });
        assert!(ends(&seq, &["a"], 0).contains(&1));
        assert!(ends(&seq, &["a", "b"], 0).contains(&2));
        assert!(!ends(&seq, &["b"], 0).contains(&1));
        assert!(!ends(&seq, &["a", "b", "b"], 0).contains(&3));
    }

    #[test]
    fn constructs_outside_the_subset_are_refused() {
        let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a"><xs:complexType><xs:all/></xs:complexType></xs:element></xs:schema>"#;
        assert!(Schema::parse(xsd).unwrap_err().contains("xs:all"));
        let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a"><xs:complexType><xs:anyAttribute/></xs:complexType></xs:element></xs:schema>"#;
        assert!(Schema::parse(xsd).unwrap_err().contains("anyAttribute"));
        let xsd =
            r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a" nillable="true" type="xs:string"/></xs:schema>"#;
        assert!(Schema::parse(xsd).unwrap_err().contains("nillable"));
    }
}
