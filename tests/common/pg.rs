//! A throwaway PostgreSQL schema for the tests that use the metadata store there
//! (`MSQ_TEST_POSTGRES_URL`, set by `scripts/ci-services.sh`).

/// A fresh schema on the test PostgreSQL server, dropped when this goes away.
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    /// `None` (printing why) when no server is configured.
    pub fn create() -> Option<PgSchema> {
        let Ok(url) = std::env::var("MSQ_TEST_POSTGRES_URL") else {
            println!("PostgreSQL not available (MSQ_TEST_POSTGRES_URL not set; scripts/ci-services.sh starts one)");
            return None;
        };
        let schema = format!("msq_it_{}", uuid::Uuid::new_v4().simple());
        let (u, s) = (url.clone(), schema.clone());
        // The sync client runs a runtime of its own: keep it off the test's async threads.
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
            c.batch_execute(&format!("CREATE SCHEMA {s}")).unwrap();
        })
        .join()
        .unwrap();
        Some(PgSchema { url, schema })
    }

    /// The store URL with this schema as the search path.
    pub fn store_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.schema)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (u, s) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&u, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"));
            }
        })
        .join();
    }
}
