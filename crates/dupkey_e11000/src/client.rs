//! Which client printed an error, told from the wrapper around it (an exception class, a
//! driver's own rendering), so that the advice uses that client's idiom for the atomic rewrite.
//! mongosh commands stay as they are: every client's users can paste those.

/// The application-side client an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Client {
    /// Mongoose (Node.js ODM).
    Mongoose,
    /// The Node.js driver (`MongoServerError`, `MongoBulkWriteError`).
    Node,
    /// PyMongo or Motor.
    Python,
    /// MongoEngine (`NotUniqueError`).
    MongoEngine,
    /// Spring Data MongoDB (`DuplicateKeyException`).
    Spring,
    /// The Java driver (`MongoWriteException`).
    Java,
    /// The Go driver (`mongo.WriteException`).
    Go,
    /// The C# driver (`MongoWriteException` in `MongoDB.Driver`).
    CSharp,
    /// The PHP library (`MongoDB\Driver\Exception`).
    Php,
    /// The Ruby driver or Mongoid (`Mongo::Error::OperationFailure`).
    Ruby,
    /// The Rust driver's `Debug` output.
    Rust,
}

/// Markers in the text around an error, most specific first: an ODM before the driver under
/// it, a framework before its driver.
const MARKERS: &[(&str, Client)] = &[
    ("mongoose", Client::Mongoose),
    ("MongooseError", Client::Mongoose),
    ("mongoengine", Client::MongoEngine),
    ("NotUniqueError", Client::MongoEngine),
    ("org.springframework", Client::Spring),
    ("DuplicateKeyException", Client::Spring),
    ("MongoDB.Driver", Client::CSharp),
    ("MongoDB\\Driver", Client::Php),
    ("MongoDB\\\\Driver", Client::Php),
    ("Mongo::Error", Client::Ruby),
    ("Mongoid::", Client::Ruby),
    ("com.mongodb.", Client::Java),
    ("MongoWriteException", Client::Java),
    ("MongoBulkWriteException", Client::Java),
    ("mongo.WriteException", Client::Go),
    ("mongo.BulkWriteException", Client::Go),
    ("mongo.CommandError", Client::Go),
    ("go.mongodb.org", Client::Go),
    ("pymongo", Client::Python),
    ("full error: {", Client::Python),
    ("motor.", Client::Python),
    ("kind: Write(WriteError(", Client::Rust),
    ("kind: Command(CommandError", Client::Rust),
    ("kind: BulkWrite(", Client::Rust),
    ("MongoServerError", Client::Node),
    ("MongoBulkWriteError", Client::Node),
    ("MongoError", Client::Node),
    ("node_modules", Client::Node),
];

impl Client {
    /// The client named in `context` (the text around one error), if any.
    pub fn detect(context: &str) -> Option<Client> {
        MARKERS
            .iter()
            .find(|(marker, _)| context.contains(marker))
            .map(|&(_, client)| client)
    }

    pub fn name(self) -> &'static str {
        match self {
            Client::Mongoose => "Mongoose",
            Client::Node => "the Node.js driver",
            Client::Python => "PyMongo",
            Client::MongoEngine => "MongoEngine",
            Client::Spring => "Spring Data MongoDB",
            Client::Java => "the Java driver",
            Client::Go => "the Go driver",
            Client::CSharp => "the C# driver",
            Client::Php => "the PHP library",
            Client::Ruby => "the Ruby driver",
            Client::Rust => "the Rust driver",
        }
    }

    /// Get-or-create as one atomic upsert, in this client's idiom.
    pub fn atomic_upsert(self) -> &'static str {
        match self {
            Client::Mongoose => {
                "Model.findOneAndUpdate(filter, { $setOnInsert: doc }, { upsert: true, new: true })"
            }
            Client::Node => {
                "collection.findOneAndUpdate(filter, { $setOnInsert: doc }, { upsert: true, returnDocument: \"after\" })"
            }
            Client::Python => {
                "collection.find_one_and_update(filter, {\"$setOnInsert\": doc}, upsert=True, return_document=ReturnDocument.AFTER)"
            }
            Client::MongoEngine => {
                "Model.objects(**filter).modify(upsert=True, new=True, **{\"set_on_insert__\" + k: v for k, v in doc.items()})"
            }
            Client::Spring => {
                "mongoTemplate.findAndModify(query, new Update().setOnInsert(\"field\", value), FindAndModifyOptions.options().upsert(true).returnNew(true), Entity.class)"
            }
            Client::Java => {
                "collection.findOneAndUpdate(filter, Updates.setOnInsert(doc), new FindOneAndUpdateOptions().upsert(true).returnDocument(ReturnDocument.AFTER))"
            }
            Client::Go => {
                "coll.FindOneAndUpdate(ctx, filter, bson.M{\"$setOnInsert\": doc}, options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After))"
            }
            Client::CSharp => {
                "collection.FindOneAndUpdateAsync(filter, Builders<T>.Update.SetOnInsert(x => x.Field, value), new FindOneAndUpdateOptions<T> { IsUpsert = true, ReturnDocument = ReturnDocument.After })"
            }
            Client::Php => {
                "$collection->findOneAndUpdate($filter, ['$setOnInsert' => $doc], ['upsert' => true, 'returnDocument' => MongoDB\\Operation\\FindOneAndUpdate::RETURN_DOCUMENT_AFTER])"
            }
            Client::Ruby => {
                "collection.find_one_and_update(filter, { '$setOnInsert' => doc }, upsert: true, return_document: :after)"
            }
            Client::Rust => {
                "coll.find_one_and_update(filter, doc! { \"$setOnInsert\": new_doc }).upsert(true).return_document(ReturnDocument::After).await?"
            }
        }
    }

    /// How this client says "code 11000 is a conflict": the check to put in the error handler.
    pub fn duplicate_check(self) -> &'static str {
        match self {
            Client::Mongoose | Client::Node => "err.code === 11000",
            Client::Python => "except pymongo.errors.DuplicateKeyError",
            Client::MongoEngine => "except mongoengine.errors.NotUniqueError",
            Client::Spring => "catch (org.springframework.dao.DuplicateKeyException e)",
            Client::Java => {
                "catch (MongoWriteException e) when e.getError().getCategory() == ErrorCategory.DUPLICATE_KEY"
            }
            Client::Go => "mongo.IsDuplicateKeyError(err)",
            Client::CSharp => {
                "catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)"
            }
            Client::Php => {
                "catch (MongoDB\\Driver\\Exception\\BulkWriteException $e) with code 11000"
            }
            Client::Ruby => "rescue Mongo::Error::OperationFailure => e if e.code == 11000",
            Client::Rust => "dupkey_e11000::DuplicateKeyError::from_driver_error(&err)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Client;

    #[test]
    fn the_wrapper_names_the_client() {
        let cases = [
            (
                "MongoServerError: E11000 duplicate key error collection: a.b",
                Some(Client::Node),
            ),
            (
                "MongooseError [MongoServerError]: E11000 duplicate key",
                Some(Client::Mongoose),
            ),
            (
                "at /app/node_modules/mongoose/lib/model.js:3012",
                Some(Client::Mongoose),
            ),
            (
                "pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection",
                Some(Client::Python),
            ),
            (
                "E11000 duplicate key error ..., full error: {'index': 0, 'code': 11000}",
                Some(Client::Python),
            ),
            (
                "mongoengine.errors.NotUniqueError: Tried to save duplicate unique keys",
                Some(Client::MongoEngine),
            ),
            (
                "org.springframework.dao.DuplicateKeyException: Write operation error",
                Some(Client::Spring),
            ),
            (
                "com.mongodb.MongoWriteException: E11000 duplicate key error",
                Some(Client::Java),
            ),
            (
                "mongo.WriteException{WriteErrors:[{[{E11000 duplicate key",
                Some(Client::Go),
            ),
            (
                "MongoDB.Driver.MongoWriteException: A write operation resulted in an error.",
                Some(Client::CSharp),
            ),
            (
                "PHP Fatal error: Uncaught MongoDB\\Driver\\Exception\\BulkWriteException: E11000",
                Some(Client::Php),
            ),
            (
                "Mongo::Error::OperationFailure: [11000]: E11000 duplicate key error",
                Some(Client::Ruby),
            ),
            (
                "Error { kind: Write(WriteError(WriteError { code: 11000",
                Some(Client::Rust),
            ),
            (
                "E11000 duplicate key error collection: a.b index: c_1 dup key: { c: 1 }",
                None,
            ),
        ];
        for (text, client) in cases {
            assert_eq!(Client::detect(text), client, "{text}");
        }
    }

    #[test]
    fn every_client_has_an_idiom_of_its_own() {
        let all = [
            Client::Mongoose,
            Client::Node,
            Client::Python,
            Client::MongoEngine,
            Client::Spring,
            Client::Java,
            Client::Go,
            Client::CSharp,
            Client::Php,
            Client::Ruby,
            Client::Rust,
        ];
        let idioms: std::collections::HashSet<&str> =
            all.iter().map(|c| c.atomic_upsert()).collect();
        assert_eq!(idioms.len(), all.len());
        for c in all {
            let idiom = c.atomic_upsert().to_ascii_lowercase().replace('_', "");
            assert!(idiom.contains("setoninsert"), "{c:?}");
        }
    }
}
