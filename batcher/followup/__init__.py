"""After and around a campaign's sends: what the vendor says became of the calls.

- `records`: the call records of accepted numbers, fetched into the journal.
- `reconcile`: `unknown` numbers settled from the vendor's call records.
- `pushed`: call records the vendor pushed (to `batcher serve`), stored in their campaigns'
  journals beside whoever holds them, or kept aside.
- `follow`: `batcher run --follow`, round after round until nothing more can happen.
- `test_call`: one real call to the operator's own phone with the campaign's message.
- `check`: one harmless signed call proves the credentials, IP whitelist and clock.
- `audio`: a voice file uploaded through fileUpload, or its earlier upload reused.

They speak to the vendor through `batcher.voiceapi` only. Importers import from the module
that defines a name: this package re-exports nothing. It MUST NOT import `cli` or `web`.
"""
