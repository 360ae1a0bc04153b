-- A self-service database at schema version 2, as dctenant made it before the tables moved to
-- clients.sqlstores (selfservice_db.py at commit 14cf7e6, one token, namespace and decided request),
-- dumped with sqlite3's iterdump. Never regenerate it with the current code: it stands for old files.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE ss_meta (
	"key" VARCHAR(64) NOT NULL, 
	value VARCHAR(200) NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO ss_meta VALUES('schema_version','2');
CREATE TABLE ss_tokens (
	id VARCHAR(32) NOT NULL, 
	tenant VARCHAR(64), 
	salt VARCHAR(64) NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	created_at VARCHAR(40) NOT NULL, 
	expires_at VARCHAR(40) NOT NULL, 
	revoked_at VARCHAR(40), 
	created_by VARCHAR(200) NOT NULL, 
	note VARCHAR(500) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO ss_tokens VALUES('t1','bale','s','b9cc050815a801453cedfac2053ecbcf8b89b2bde28ec9768ad6a5d6c1844834','2026-11-27T12:00:00+00:00','2026-12-27T12:00:00+00:00',NULL,'staff','n');
CREATE TABLE ss_namespaces (
	name VARCHAR(63) NOT NULL, 
	tenant VARCHAR(64) NOT NULL, 
	pool VARCHAR(64) NOT NULL, 
	quota TEXT NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	created_at VARCHAR(40) NOT NULL, 
	created_by VARCHAR(200) NOT NULL, 
	PRIMARY KEY (name)
);
INSERT INTO ss_namespaces VALUES('bale-a','bale','lab','{"cpu": "4"}','active','2026-11-27T12:00:00+00:00','t1');
CREATE TABLE ss_idempotency (
	tenant VARCHAR(64) NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	fingerprint VARCHAR(64) NOT NULL, 
	namespace VARCHAR(63) NOT NULL, 
	created_at VARCHAR(40) NOT NULL, 
	status INTEGER, 
	response TEXT, 
	PRIMARY KEY (tenant, "key")
);
CREATE TABLE ss_requests (
	id INTEGER NOT NULL, 
	tenant VARCHAR(64) NOT NULL, 
	pool VARCHAR(64) NOT NULL, 
	demand TEXT NOT NULL, 
	reason VARCHAR(2000) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	created_at VARCHAR(40) NOT NULL, 
	created_by VARCHAR(200) NOT NULL, 
	decided_at VARCHAR(40), 
	decided_by VARCHAR(200) NOT NULL, 
	decision VARCHAR(2000) NOT NULL, 
	mode VARCHAR(8) NOT NULL, 
	"before" TEXT, 
	result TEXT, 
	exported_at VARCHAR(40), 
	PRIMARY KEY (id)
);
INSERT INTO ss_requests VALUES(1,'bale','lab','{"cpu": "8"}','r','approved','2026-11-27T12:00:00+00:00','t1','2026-11-27T12:00:00+00:00','staff','ok','add','{"cpu": "12"}','{"cpu": "20"}',NULL);
CREATE INDEX ix_ss_tokens_tenant ON ss_tokens (tenant);
CREATE INDEX ix_ss_namespaces_tenant ON ss_namespaces (tenant);
CREATE INDEX ix_ss_requests_tenant ON ss_requests (tenant);
COMMIT;
