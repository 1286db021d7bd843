"""Model signatures and attestations, compatible with OpenSSF model-signing v1.0.

* :mod:`mlsec_gates.signing.keys`: EC private keys and AWS KMS keys (``load_signer``,
  ``load_verifier``);
* :mod:`mlsec_gates.signing.dsse`: DSSE envelopes over in-toto statements;
* :mod:`mlsec_gates.signing.intoto`: the statements (model signature, attachments, SLSA v1
  provenance);
* :mod:`mlsec_gates.signing.bundle`: Sigstore bundles as model-signing writes and reads them.

The gates built on these are :func:`mlsec_gates.gates.sign.sign_gate` and
:func:`mlsec_gates.gates.sign.verify_gate`. Sigstore keyless signing is not supported: it
needs Fulcio and Rekor on the network.
"""
