export { type CertificateAuthority, ensureCa } from './ca.js';
export { type CertificateSummary, describeCertificate } from './certificates.js';
export { type TlsMaterialToVerify, type TlsProblem, type TlsProblemKind, verifyTlsMaterial } from './verify.js';
export { type IssuedCertificate, type WebCertificateRequest, type WebTlsMaterial, type WebTlsOptions, issueWebCertificate, webTlsMaterial } from './web.js';
export { type DbTlsMaterial, dbCaCertificate, dbCertificateNames, dbTlsMaterial } from './db.js';
