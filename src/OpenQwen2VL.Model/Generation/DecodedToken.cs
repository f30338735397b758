namespace OpenQwen2VL.Model.Generation;

/// <summary>One token a <see cref="DecodingSession"/> step produced for a slot; a finished slot is free again after the step.</summary>
/// <param name="Slot">the slot <see cref="DecodingSession.Add"/> returned</param>
/// <param name="Id">the new token id</param>
/// <param name="Finished">the sequence ended with this token (its budget, a stop token or string, the model's context)</param>
public readonly record struct DecodedToken(int Slot, long Id, bool Finished);
