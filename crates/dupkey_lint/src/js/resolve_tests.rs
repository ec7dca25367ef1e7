//! Import resolution for JavaScript/TypeScript on a real folder: relative imports, `index`
//! files, `.js` specifiers naming `.ts` files, `tsconfig` `paths`/`baseUrl` through
//! `extends`, and `jsconfig.json`.

use std::path::{Path, PathBuf};

use crate::project::Project;
use crate::resolve::Resolver;

/// A folder under the system temp dir, removed when dropped.
struct TempTree(PathBuf);

impl TempTree {
    fn new(name: &str, files: &[(&str, &str)]) -> TempTree {
        let root = std::env::temp_dir().join(format!("dupkey-lint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        TempTree(root)
    }

    fn project(&self, files: &[&str]) -> Project {
        let facts = files
            .iter()
            .map(|f| {
                let path = self.0.join(f);
                let text = std::fs::read_to_string(&path).unwrap();
                crate::js::extract(&path, &text).unwrap()
            })
            .collect();
        Project::new(&self.0, facts)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where each import of file 0 leads (file names relative to the root).
fn targets(tree: &TempTree, project: &Project) -> Vec<Option<String>> {
    let resolver = Resolver::new(&tree.0);
    project.files[0]
        .imports
        .iter()
        .map(|i| {
            resolver.resolve(project, 0, i).map(|t| {
                let p: &Path = &project.files[t].path;
                p.strip_prefix(&tree.0).unwrap().display().to_string()
            })
        })
        .collect()
}

const USER: &str = "import { Schema, model } from 'mongoose';\nexport const User = model('User', new Schema({ email: { type: String, unique: true } }));\n";

#[test]
fn tsconfig_paths_through_extends_and_base_url() {
    let tree = TempTree::new(
        "tsconfig",
        &[
            (
                "tsconfig.base.json",
                r#"{ "compilerOptions": { "baseUrl": "src", "paths": { "@models/*": ["models/*"], }, }, }"#,
            ),
            (
                "tsconfig.json",
                "// the app's config\n{ \"extends\": \"./tsconfig.base\", \"compilerOptions\": { \"strict\": true /* on */ } }",
            ),
            ("src/models/user.model.ts", USER),
            ("src/lib/db/index.ts", "export const db = 1;"),
            ("src/models/order.ts", "export const Order = 1;"),
            (
                "src/services/users.ts",
                "import { User } from '@models/user.model';\nimport { db } from 'lib/db';\nimport { Order } from '../models/order.js';\nimport express from 'express';\n",
            ),
        ],
    );
    let project = tree.project(&[
        "src/services/users.ts",
        "src/models/user.model.ts",
        "src/lib/db/index.ts",
        "src/models/order.ts",
    ]);
    assert_eq!(
        targets(&tree, &project),
        [
            Some("src/models/user.model.ts".to_string()),
            Some("src/lib/db/index.ts".to_string()),
            Some("src/models/order.ts".to_string()),
            None,
        ]
    );
    // The model is found through the alias where it is used.
    let model = project.model(0, &crate::facts::Target::Model("User".into()));
    assert_eq!(model.map(|m| m.file), Some(1));
}

#[test]
fn jsconfig_paths_without_base_url_are_relative_to_the_config() {
    let tree = TempTree::new(
        "jsconfig",
        &[
            (
                "web/jsconfig.json",
                r#"{ "compilerOptions": { "paths": { "@/*": ["./src/*"] } } }"#,
            ),
            ("web/src/models/Invite.js", "module.exports = 1;"),
            (
                "web/src/app/api/route.js",
                "const Invite = require('@/models/Invite');\n",
            ),
        ],
    );
    let project = tree.project(&["web/src/app/api/route.js", "web/src/models/Invite.js"]);
    assert_eq!(
        targets(&tree, &project),
        [Some("web/src/models/Invite.js".to_string())]
    );
}

#[test]
fn broken_tsconfig_leaves_relative_imports_working() {
    let tree = TempTree::new(
        "broken",
        &[
            ("tsconfig.json", "{ \"compilerOptions\": { \"paths\": "),
            (
                "a.ts",
                "import { b } from './b';\nimport { c } from '@/c';\n",
            ),
            ("b.ts", "export const b = 1;"),
        ],
    );
    let project = tree.project(&["a.ts", "b.ts"]);
    assert_eq!(targets(&tree, &project), [Some("b.ts".to_string()), None]);
}
