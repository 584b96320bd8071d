//! A structure written straight to XML text along the model, with no JSON value in between:
//! for the answers whose items are many (a DescribeInstances page writes 1,000 instances),
//! where building a `serde_json::Value` per item (a map and a string per member) and walking
//! it cost several times more than the text itself.
//!
//! The model's checks stay: each member is named by its model name and written under its
//! element name, in the model's order (a member given out of that order, or one the shape
//! lacks, is refused, as `xml::encode` refuses a key the model does not have); scalars go to
//! scalar members only, structures and lists to members of those shapes. The text is what
//! `xml::encode` writes for the same answer as a value (held byte for byte by
//! `render::tests`): an empty structure or list is `<name/>`, text is escaped alike.

use super::{escape, indent, structure, EncodeError};
use crate::protocol::shapes::{model, Member, Shape};

/// The members of one structure being written. The element's start tag is written with its
/// first member, so that a structure without members is `<name/>`, as `xml::encode` writes
/// an empty object.
pub struct Fields<'o> {
    out: &'o mut String,
    shape: &'static str,
    members: &'static [Member],
    /// The first member not yet passed: members come in the model's order.
    next: usize,
    name: &'static str,
    depth: usize,
    open: bool,
}

impl<'o> Fields<'o> {
    /// The structure `shape` written as element `name` at `depth`.
    pub(super) fn new(
        out: &'o mut String,
        name: &'static str,
        shape: &'static str,
        depth: usize,
    ) -> Result<Fields<'o>, EncodeError> {
        Ok(Fields {
            out,
            shape,
            members: structure(shape)?,
            next: 0,
            name,
            depth,
            open: false,
        })
    }

    /// The member `name`, after those already written.
    fn member(&mut self, name: &str) -> Result<&'static Member, EncodeError> {
        let members: &'static [Member] = self.members;
        match members[self.next..].iter().position(|m| m.name == name) {
            Some(n) => {
                self.next += n + 1;
                Ok(&members[self.next - 1])
            }
            None if members.iter().any(|m| m.name == name) => Err(EncodeError(format!(
                "{}: member {name} out of the model's order",
                self.shape
            ))),
            None => Err(EncodeError(format!("{} has no member {name}", self.shape))),
        }
    }

    /// The start tag, before the first member.
    fn start(&mut self) {
        if !self.open {
            self.open = true;
            indent(self.out, self.depth);
            push_tag(self.out, "<", self.name, ">\n");
        }
    }

    /// A scalar member's element with `text` (already escaped).
    fn scalar(&mut self, name: &str, text: &str) -> Result<(), EncodeError> {
        let m = self.member(name)?;
        if !m.scalar {
            return Err(EncodeError(format!(
                "{}.{name}: not a scalar member",
                self.shape
            )));
        }
        self.start();
        scalar_element(self.out, m.element_name(), text, self.depth + 1);
        Ok(())
    }

    /// A string member.
    pub fn str(&mut self, name: &str, v: &str) -> Result<(), EncodeError> {
        self.scalar(name, &escape(v))
    }

    /// A boolean member.
    pub fn bool(&mut self, name: &str, v: bool) -> Result<(), EncodeError> {
        self.scalar(name, if v { "true" } else { "false" })
    }

    /// An integer member.
    pub fn int(&mut self, name: &str, v: i64) -> Result<(), EncodeError> {
        self.scalar(name, &v.to_string())
    }

    /// A structure member, its members written by `f`.
    pub fn structure(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Fields<'_>) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        let m = self.member(name)?;
        self.start();
        let mut inner = Fields::new(self.out, m.element_name(), &m.shape, self.depth + 1)?;
        f(&mut inner)?;
        inner.end();
        Ok(())
    }

    /// A list member, its items written by `f`.
    pub fn list(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Items<'_>) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        let m = self.member(name)?;
        let Some(Shape::List { member, .. }) = model().shape(&m.shape) else {
            return Err(EncodeError(format!(
                "{}.{name}: not a list member",
                self.shape
            )));
        };
        self.start();
        let mut items = Items {
            out: self.out,
            member,
            name: m.element_name(),
            depth: self.depth + 1,
            open: false,
        };
        f(&mut items)?;
        items.end();
        Ok(())
    }

    /// The end tag, or the whole empty element when no member was written.
    pub(super) fn end(self) {
        indent(self.out, self.depth);
        if self.open {
            push_tag(self.out, "</", self.name, ">\n");
        } else {
            push_tag(self.out, "<", self.name, "/>\n");
        }
    }
}

/// The items of one list being written, each in the list member's element (`item`).
pub struct Items<'o> {
    out: &'o mut String,
    member: &'static Member,
    name: &'static str,
    depth: usize,
    open: bool,
}

impl Items<'_> {
    fn start(&mut self) {
        if !self.open {
            self.open = true;
            indent(self.out, self.depth);
            push_tag(self.out, "<", self.name, ">\n");
        }
    }

    /// An item of a list of structures, its members written by `f`.
    pub fn structure(
        &mut self,
        f: impl FnOnce(&mut Fields<'_>) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.start();
        let mut inner = Fields::new(
            self.out,
            item_name(self.member),
            &self.member.shape,
            self.depth + 1,
        )?;
        f(&mut inner)?;
        inner.end();
        Ok(())
    }

    /// An item of a list of strings.
    pub fn str(&mut self, v: &str) -> Result<(), EncodeError> {
        if !self.member.scalar {
            return Err(EncodeError(format!("{}: not a list of scalars", self.name)));
        }
        self.start();
        scalar_element(self.out, item_name(self.member), &escape(v), self.depth + 1);
        Ok(())
    }

    fn end(self) {
        indent(self.out, self.depth);
        if self.open {
            push_tag(self.out, "</", self.name, ">\n");
        } else {
            push_tag(self.out, "<", self.name, "/>\n");
        }
    }
}

/// A list item's element name (`item` throughout EC2).
fn item_name(member: &'static Member) -> &'static str {
    member.location_name.as_deref().unwrap_or("member")
}

fn push_tag(out: &mut String, open: &str, name: &str, close: &str) {
    out.push_str(open);
    out.push_str(name);
    out.push_str(close);
}

/// `<name>text</name>` on a line of its own.
fn scalar_element(out: &mut String, name: &str, text: &str, depth: usize) {
    indent(out, depth);
    push_tag(out, "<", name, ">");
    out.push_str(text);
    push_tag(out, "</", name, ">\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(
        f: impl FnOnce(&mut Fields<'_>) -> Result<(), EncodeError>,
    ) -> Result<String, EncodeError> {
        let mut out = String::new();
        let mut fields = Fields::new(&mut out, "item", "InstanceState", 0)?;
        f(&mut fields)?;
        fields.end();
        Ok(out)
    }

    #[test]
    fn members_are_named_and_ordered_by_the_model() {
        let xml = written(|f| {
            f.int("Code", 16)?;
            f.str("Name", "running")
        })
        .unwrap();
        assert_eq!(
            xml,
            "<item>\n    <code>16</code>\n    <name>running</name>\n</item>\n"
        );
        assert_eq!(written(|_| Ok(())).unwrap(), "<item/>\n");
    }

    #[test]
    fn unknown_misordered_and_misshapen_members_are_refused() {
        let unknown = written(|f| f.str("Bogus", "x")).unwrap_err();
        assert!(unknown.to_string().contains("no member Bogus"), "{unknown}");
        let order = written(|f| {
            f.str("Name", "running")?;
            f.int("Code", 16)
        })
        .unwrap_err();
        assert!(order.to_string().contains("order"), "{order}");
        assert!(written(|f| f.structure("Code", |_| Ok(()))).is_err());
        assert!(written(|f| f.list("Name", |_| Ok(()))).is_err());
    }
}
