"""URL patterns: path(), re_path() and include()."""

from django.urls import include, path, re_path

from . import views

api = [path("items/<slug:name>/", views.item)]

urlpatterns = [
    path("", views.index),
    path("users/<int:uid>/", views.user_detail),
    path("async/users/<int:uid>/", views.async_user_detail),
    path("boom/", views.boom),
    path("async/boom/", views.async_boom),
    path("missing/", views.missing),
    path("status/<int:code>/", views.status),
    path("headers/", views.headers),
    path("me/", views.me),
    path("stream/", views.stream),
    path("async/stream/", views.async_stream),
    path("api/", include(api)),
    re_path(r"^legacy/(?P<pk>[0-9]+)/$", views.legacy),
]
