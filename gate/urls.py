from django.urls import path

from gate import views

urlpatterns = [
    path("enter/", views.enter, name="enter"),
    path("leave/", views.leave, name="leave"),
]
