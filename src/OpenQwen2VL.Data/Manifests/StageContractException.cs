namespace OpenQwen2VL.Data.Manifests;

/// <summary>
/// Two stages disagree, or a stage folder cannot be read as what it claims to be (missing or malformed manifest, a
/// shard it lists is gone). The message is one line that names both values and the fix; a user error, not a crash.
/// </summary>
public sealed class StageContractException(string message) : Exception(message);
