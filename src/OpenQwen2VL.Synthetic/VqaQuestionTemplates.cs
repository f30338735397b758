using System.Globalization;

namespace OpenQwen2VL.Synthetic;

/// <summary>Question wordings per <see cref="VqaQuestionType"/>; answers are single words (a colour, a shape, a digit, a side).</summary>
public static class VqaQuestionTemplates
{
    public static SyntheticQuestion Ask(Scene s, VqaQuestionType type, Random rng)
    {
        string noun = SceneVocabulary.Noun(s.Shape, s.Count);
        string be = s.Count == 1 ? "is" : "are";
        int variant = rng.Next(3);
        return type switch
        {
            VqaQuestionType.Color => new(type, variant switch
            {
                0 => $"What color {be} the {noun}?",
                1 => "What color are the shapes in the image?",
                _ => $"Which color {be} the {SceneVocabulary.Word(s.Size)} {noun}?",
            }, s.Color.Name),
            VqaQuestionType.Shape => new(type, variant switch
            {
                0 => "What shape is shown in the image?",
                1 => $"What shape {be} the {s.Color.Name} {(s.Count == 1 ? "object" : "objects")}?",
                _ => "Which shape can you see?",
            }, SceneVocabulary.Word(s.Shape)),
            VqaQuestionType.Count => new(type, variant switch
            {
                0 => $"How many {SceneVocabulary.Plural(s.Shape)} are there?",
                1 => $"How many {s.Color.Name} shapes are in the image?",
                _ => "How many objects can you count?",
            }, s.Count.ToString(CultureInfo.InvariantCulture)),
            _ => new(type, variant switch
            {
                0 => $"Where {be} the {noun}?",
                1 => $"In which part of the image {be} the {s.Color.Name} {noun}?",
                _ => "Where are the shapes placed?",
            }, SceneVocabulary.Word(s.Position)),
        };
    }
}
