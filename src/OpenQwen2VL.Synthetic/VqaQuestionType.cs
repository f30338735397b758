namespace OpenQwen2VL.Synthetic;

/// <summary>What a synthetic question asks about. Questions are drawn round-robin over these, so answer types are balanced.</summary>
public enum VqaQuestionType { Color, Shape, Count, Position }

/// <summary>A question with its true short answer and its VQAv2 answer type ("number" or "other").</summary>
public sealed record SyntheticQuestion(VqaQuestionType Type, string Question, string Answer)
{
    public string AnswerType => Type == VqaQuestionType.Count ? "number" : "other";

    /// <summary>The VQAv2 <c>question_type</c> field; we use the category name.</summary>
    public string QuestionTypeName => Type.ToString().ToLowerInvariant();
}
