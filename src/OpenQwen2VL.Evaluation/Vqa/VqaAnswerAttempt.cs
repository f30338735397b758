using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>The answer to one prompt, or why the prompt could not be asked (exactly one of them is set).</summary>
public sealed record VqaAnswerAttempt(string? Answer, Exception? Failure)
{
    /// <summary>Runs <paramref name="generate"/>; an unreadable image or a prompt too long for the model becomes a failure.</summary>
    public static VqaAnswerAttempt Try(Func<string> generate)
    {
        try { return new VqaAnswerAttempt(generate(), null); }
        catch (Exception e) when (e is UnreadableImageException or PromptTooLongException) { return new VqaAnswerAttempt(null, e); }
    }

    /// <summary>The answer, or the failure rethrown.</summary>
    public string AnswerOrThrow() => Failure is null ? Answer! : throw Failure;
}
