//! `#[ffi_fn]`: the one attribute every exported function of `sigsync-ffi` carries.
//!
//! It rewrites the function body so that
//!
//! * every raw-pointer parameter is checked for NULL first (unless listed in
//!   `nullable(...)`), returning the return type's "null parameter" value;
//! * the body runs inside `catch_unwind`, and a panic becomes the return type's "panic" value;
//! * when the function has a parameter named `error_out`, both cases also hand the caller an
//!   error object there.
//!
//! The function keeps its `#[no_mangle] pub extern "C" fn` signature in the source, so that
//! cbindgen (which does not expand macros) sees it; a unit test of `sigsync-ffi` fails when a
//! `#[no_mangle]` function lacks this attribute.

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, FnArg, Ident, ItemFn, Meta, Pat, ReturnType, Token, Type};

/// Wraps an exported function with NULL checks and a panic boundary.
///
/// `#[ffi_fn]` or `#[ffi_fn(nullable(a, b))]` for pointer parameters that may be NULL.
#[proc_macro_attribute]
pub fn ffi_fn(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut func = parse_macro_input!(item as ItemFn);
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse(attr) {
        Ok(m) => m,
        Err(e) => return e.to_compile_error().into(),
    };
    let mut nullable: Vec<Ident> = Vec::new();
    for meta in metas {
        match meta {
            Meta::List(list) if list.path.is_ident("nullable") => {
                match list.parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated) {
                    Ok(ids) => nullable.extend(ids),
                    Err(e) => return e.to_compile_error().into(),
                }
            }
            other => {
                return syn::Error::new_spanned(other, "expected nullable(...)")
                    .to_compile_error()
                    .into()
            }
        }
    }

    let has_no_mangle = func.attrs.iter().any(|a| a.path().is_ident("no_mangle"));
    if !has_no_mangle || func.sig.abi.is_none() {
        return syn::Error::new_spanned(
            &func.sig,
            "#[ffi_fn] goes on a #[no_mangle] pub extern \"C\" fn",
        )
        .to_compile_error()
        .into();
    }

    let mut checks = Vec::new();
    let mut has_error_out = false;
    for arg in &func.sig.inputs {
        let FnArg::Typed(pt) = arg else { continue };
        let Pat::Ident(pi) = &*pt.pat else { continue };
        let name = &pi.ident;
        if name == "error_out" {
            has_error_out = true;
            continue;
        }
        if matches!(&*pt.ty, Type::Ptr(_)) && !nullable.iter().any(|n| n == name) {
            let label = name.to_string();
            checks.push(quote! {
                if #name.is_null() {
                    return crate::boundary::Boundary::null_parameter(__error_out, #label);
                }
            });
        }
    }
    let error_out = if has_error_out {
        quote! { error_out }
    } else {
        quote! { ::core::ptr::null_mut() }
    };
    let ret = match &func.sig.output {
        ReturnType::Default => quote! { () },
        ReturnType::Type(_, ty) => quote! { #ty },
    };
    let body = &func.block;
    let name = func.sig.ident.to_string();
    *func.block = syn::parse_quote! {{
        let __error_out: *mut *mut crate::error::sigsync_error = #error_out;
        let __result = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(move || -> #ret {
            #(#checks)*
            #body
        }));
        match __result {
            Ok(value) => value,
            Err(payload) => crate::boundary::Boundary::panicked(__error_out, #name, payload),
        }
    }};
    func.attrs
        .push(syn::parse_quote!(#[allow(clippy::not_unsafe_ptr_arg_deref)]));
    quote!(#func).into()
}
