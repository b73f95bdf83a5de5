//! `definition!`: generates a definition type from one table of fields, so that the struct,
//! its getters, its builder setters and its conversion to and from cmdlet parameters cannot
//! disagree about a field.
//!
//! Field kinds: `flag` (bool with a default), `text` (optional string), `list` (strings),
//! `domains` (strings read back from `smtp:x;1` address spaces), `choice<T>` (optional enum),
//! `required<T>` (enum with a default), `number` (optional u32), `size` (optional bytes).

macro_rules! definition {
    (@ty flag) => { bool };
    (@ty text) => { Option<String> };
    (@ty list) => { Vec<String> };
    (@ty domains) => { Vec<String> };
    (@ty choice $t:ty) => { Option<$t> };
    (@ty required $t:ty) => { $t };
    (@ty number) => { Option<u32> };
    (@ty size) => { Option<u64> };

    (@default flag $d:expr) => { $d };
    (@default required $d:expr) => { $d };
    (@default $kind:ident) => { Default::default() };

    (@getter [$(#[$doc:meta])*] flag $f:ident) => {
        $(#[$doc])* pub fn $f(&self) -> bool { self.$f }
    };
    (@getter [$(#[$doc:meta])*] text $f:ident) => {
        $(#[$doc])* pub fn $f(&self) -> Option<&str> { self.$f.as_deref() }
    };
    (@getter [$(#[$doc:meta])*] list $f:ident) => {
        $(#[$doc])* pub fn $f(&self) -> &[String] { &self.$f }
    };
    (@getter [$(#[$doc:meta])*] domains $f:ident) => {
        $(#[$doc])* pub fn $f(&self) -> &[String] { &self.$f }
    };
    (@getter [$(#[$doc:meta])*] choice $f:ident $t:ty) => {
        $(#[$doc])* pub fn $f(&self) -> Option<$t> { self.$f }
    };
    (@getter [$(#[$doc:meta])*] required $f:ident $t:ty) => {
        $(#[$doc])* pub fn $f(&self) -> $t { self.$f }
    };
    (@getter [$(#[$doc:meta])*] number $f:ident) => {
        $(#[$doc])* pub fn $f(&self) -> Option<u32> { self.$f }
    };
    (@getter [$(#[$doc:meta])*] size $f:ident) => {
        $(#[$doc])* pub fn $f(&self) -> Option<u64> { self.$f }
    };

    (@setter [$(#[$doc:meta])*] flag $f:ident) => {
        $(#[$doc])* pub fn $f(mut self, value: bool) -> Self { self.inner.$f = value; self }
    };
    (@setter [$(#[$doc:meta])*] text $f:ident) => {
        $(#[$doc])* pub fn $f(mut self, value: impl Into<String>) -> Self {
            let value = value.into();
            self.inner.$f = (!value.is_empty()).then_some(value);
            self
        }
    };
    (@setter [$(#[$doc:meta])*] list $f:ident) => {
        $(#[$doc])* pub fn $f<I, S>(mut self, values: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.inner.$f = values.into_iter().map(Into::into).collect();
            self
        }
    };
    (@setter [$(#[$doc:meta])*] domains $f:ident) => {
        definition!(@setter [$(#[$doc])*] list $f);
    };
    (@setter [$(#[$doc:meta])*] choice $f:ident $t:ty) => {
        $(#[$doc])* pub fn $f(mut self, value: $t) -> Self { self.inner.$f = Some(value); self }
    };
    (@setter [$(#[$doc:meta])*] required $f:ident $t:ty) => {
        $(#[$doc])* pub fn $f(mut self, value: $t) -> Self { self.inner.$f = value; self }
    };
    (@setter [$(#[$doc:meta])*] number $f:ident) => {
        $(#[$doc])* pub fn $f(mut self, value: u32) -> Self { self.inner.$f = Some(value); self }
    };
    (@setter [$(#[$doc:meta])*] size $f:ident) => {
        $(#[$doc])* pub fn $f(mut self, bytes: u64) -> Self { self.inner.$f = Some(bytes); self }
    };

    (@to flag $v:expr) => { serde_json::Value::Bool($v) };
    (@to text $v:expr) => { $crate::model::params::text_to($v.as_deref()) };
    (@to list $v:expr) => { $crate::model::params::list_to(&$v) };
    (@to domains $v:expr) => { $crate::model::params::list_to(&$v) };
    (@to choice $v:expr) => { $crate::model::params::choice_to($v) };
    (@to required $v:expr) => {
        serde_json::Value::String($crate::model::ParamEnum::as_str($v).to_owned())
    };
    (@to number $v:expr) => { $v.map_or(serde_json::Value::Null, serde_json::Value::from) };
    (@to size $v:expr) => { $v.map_or(serde_json::Value::Null, serde_json::Value::from) };

    (@from flag $p:expr, $v:expr, $d:expr) => { $crate::model::params::flag_from($p, $v, $d) };
    (@from text $p:expr, $v:expr) => { $crate::model::params::text_from($p, $v) };
    (@from list $p:expr, $v:expr) => { $crate::model::params::list_from($p, $v) };
    (@from domains $p:expr, $v:expr) => { $crate::model::params::domains_from($p, $v) };
    (@from choice $t:ty, $p:expr, $v:expr) => { $crate::model::params::choice_from::<$t>($p, $v) };
    (@from required $t:ty, $p:expr, $v:expr, $d:expr) => {
        $crate::model::params::choice_from::<$t>($p, $v).map(|v| v.unwrap_or($d))
    };
    (@from number $p:expr, $v:expr) => { $crate::model::params::number_from($p, $v) };
    (@from size $p:expr, $v:expr) => { $crate::model::params::size_from($p, $v) };

    (
        $(#[$sdoc:meta])*
        pub struct $name:ident, $builder:ident {
            $(
                $(#[$fdoc:meta])*
                $field:ident : $kind:ident $(<$t:ty>)? = $param:literal $(, default $default:expr)? ;
            )*
        }
    ) => {
        $(#[$sdoc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            name: String,
            $( $field: definition!(@ty $kind $($t)?), )*
        }

        impl $name {
            /// The cmdlet parameter names this type models, `Name` first.
            pub const PARAMS: &'static [&'static str] = &["Name", $( $param, )*];

            /// Starts a builder for a definition with this `Name`.
            pub fn builder(name: impl Into<String>) -> $builder {
                $builder {
                    inner: $name {
                        name: name.into(),
                        $( $field: definition!(@default $kind $($default)?), )*
                    },
                }
            }

            /// Turns this definition back into a builder, to change it and validate again.
            pub fn to_builder(&self) -> $builder {
                $builder { inner: self.clone() }
            }

            /// `Name`: unique, at most 64 characters.
            pub fn name(&self) -> &str {
                &self.name
            }

            $( definition!(@getter [$(#[$fdoc])*] $kind $field $($t)?); )*

            /// Every modelled parameter, unset ones as `null`, keyed by cmdlet parameter name.
            pub fn to_params(&self) -> $crate::model::Params {
                let mut p = $crate::model::Params::new();
                p.insert("Name".to_owned(), serde_json::Value::String(self.name.clone()));
                $( p.insert($param.to_owned(), definition!(@to $kind self.$field)); )*
                p
            }

            /// Reads a definition from cmdlet parameters or a Get-* record, ignoring unknown
            /// fields. Does not validate: call `validate` for that.
            pub fn from_params(p: &$crate::model::Params) -> $crate::Result<Self> {
                Ok($name {
                    name: $crate::model::params::name_from("Name", p.get("Name"))?,
                    $( $field: definition!(@from $kind $($t,)? $param, p.get($param) $(, $default)?)?, )*
                })
            }
        }

        #[doc = concat!("Builds a validated [`", stringify!($name), "`].")]
        #[derive(Debug, Clone)]
        pub struct $builder {
            inner: $name,
        }

        impl $builder {
            /// Renames the definition.
            pub fn name(mut self, name: impl Into<String>) -> Self {
                self.inner.name = name.into();
                self
            }

            $( definition!(@setter [$(#[$fdoc])*] $kind $field $($t)?); )*

            /// Validates as Exchange Online would and returns the definition, or an error
            /// that names the field and the reason.
            pub fn build(self) -> $crate::Result<$name> {
                self.inner.validate()?;
                Ok(self.inner)
            }

            /// The definition without validating it (the caller validates later).
            pub(crate) fn into_unchecked(self) -> $name {
                self.inner
            }
        }
    };
}

pub(crate) use definition;
